"""Each function's containerConcurrency and autoscaling target are the ones its measurement
recommends (benchmarks/results/concurrency.json, written by `task bench -- concurrency`), and
Knative resolves the manifests' annotations to exactly that target."""

from __future__ import annotations

import json
from typing import Any

import pytest

from benchmarks.bench_concurrency import JSON, Level, knee, recommend
from tests.support.knative.manifests import KNATIVE, Manifest, load_file

FUNCTIONS = ("users", "products", "orders", "notifications")
TARGET = "autoscaling.knative.dev/target"
UTILIZATION = "autoscaling.knative.dev/target-utilization-percentage"


def resolved_target(annotations: dict[str, str], container_concurrency: int) -> float:
    """What Knative's KPA aims for per pod on the concurrency metric, as ResolveMetricTarget
    (serving pkg/reconciler/autoscaling/resources/target.go) computes it: the annotated target
    (default: containerConcurrency, or 100 when that is 0), capped by containerConcurrency,
    times the target utilization (default 70%), at least 1."""
    total = float(container_concurrency or 100)
    if TARGET in annotations:
        total = float(annotations[TARGET])
        if container_concurrency:
            total = min(total, container_concurrency)
    utilization = float(annotations.get(UTILIZATION, "70")) / 100
    return max(1.0, total * utilization)


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(JSON.read_text())
    return loaded


def service(function: str) -> Manifest:
    (found,) = [
        m for m in load_file(KNATIVE / "services" / f"{function}.yaml") if m.kind == "Service"
    ]
    return found


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_manifest_carries_the_measured_container_concurrency_and_target(
    function: str, recorded: dict[str, Any]
) -> None:
    chosen = recorded["functions"][function]
    template = service(function).body["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    concurrency = template["spec"]["containerConcurrency"]
    assert concurrency == chosen["container_concurrency"]
    assert float(annotations[TARGET]) == pytest.approx(chosen["target"])
    assert resolved_target(annotations, concurrency) == pytest.approx(chosen["target"])
    assert resolved_target(annotations, concurrency) < concurrency


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_recorded_choice_follows_from_the_recorded_measurement(
    function: str, recorded: dict[str, Any]
) -> None:
    chosen = recorded["functions"][function]
    measured = {
        label.split(" ", 1)[1]: [Level(**level) for level in levels]
        for label, levels in recorded["levels"].items()
        if label.split(" ", 1)[0] == function
    }
    assert measured, f"no measurement of {function}"
    picks = {endpoint: recommend(knee(levels)) for endpoint, levels in measured.items()}
    governing = min(picks.values())
    assert picks[chosen["endpoint"]] == governing
    assert knee(measured[chosen["endpoint"]]) == chosen["knee"]
    assert (chosen["container_concurrency"], chosen["target"]) == governing


def test_the_knee_is_the_fewest_in_flight_reaching_ninety_percent_of_the_peak() -> None:
    def level(concurrency: int, rps: float) -> Level:
        return Level(
            concurrency=concurrency,
            requests=100,
            failed=0,
            rps=rps,
            raw_rps=rps,
            p50_ms=1.0,
            p99_ms=2.0,
            cpu_ms=1.0,
            core=1.0,
            starved=0.0,
        )

    levels = [level(1, 40), level(2, 80), level(4, 91), level(8, 100), level(16, 95)]
    assert knee(levels) == 4
    assert knee([level(1, 100), level(2, 99), level(4, 60)]) == 1


def test_concurrency_is_the_power_of_two_over_twice_the_knee_and_the_target_70_percent() -> None:
    assert recommend(1) == (2, 1.4)
    assert recommend(3) == (8, 5.6)
    assert recommend(4) == (8, 5.6)
    assert recommend(5) == (16, 11.2)


def test_knative_caps_an_annotated_target_by_container_concurrency_and_applies_utilization() -> (
    None
):
    assert resolved_target({TARGET: "50"}, 8) == pytest.approx(5.6)
    assert resolved_target({TARGET: "5.6", UTILIZATION: "100"}, 8) == pytest.approx(5.6)
    assert resolved_target({TARGET: "5.6"}, 8) == pytest.approx(3.92)
    assert resolved_target({}, 0) == pytest.approx(70)
    assert resolved_target({TARGET: "0.5", UTILIZATION: "100"}, 2) == 1.0
