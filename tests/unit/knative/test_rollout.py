"""`task rollout:blue-green` patches: each step leaves traffic the webhook accepts."""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

import pytest

from tests.support.knative.lint import traffic
from tests.support.processes import ROOT


@pytest.fixture(scope="module")
def rollout() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rollout", ROOT / "tools" / "rollout.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def served(traffic: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {"name": "orders"},
        "spec": {"template": {"spec": {"containers": [{"image": "old"}]}}, "traffic": traffic},
        "status": {
            "latestReadyRevisionName": "orders-00003",
            "traffic": [{"revisionName": "orders-00003", "percent": 100}],
        },
    }


def test_stage_keeps_all_traffic_on_blue_and_tags_the_new_revision_green(
    rollout: ModuleType,
) -> None:
    patch = rollout.stage_patch(served([]), "registry.example/orders:2", "v2")
    ops = {op["path"]: op["value"] for op in patch}
    assert ops["/spec/template/spec/containers/0/image"] == "registry.example/orders:2"
    assert ops["/spec/template/metadata/name"] == "orders-v2"
    targets = ops["/spec/traffic"]
    assert {t.get("tag"): t["percent"] for t in targets} == {"blue": 100, "green": 0, "latest": 0}
    assert traffic("orders", targets) == []


@pytest.mark.parametrize(("step", "blue"), [("promote", 0), ("rollback", 100)])
def test_promote_and_rollback_move_every_percent_between_the_tags(
    rollout: ModuleType, step: str, blue: int
) -> None:
    staged = rollout.traffic("orders-00003", "orders-v2", 100)
    (op,) = rollout.shift_patch(served(staged), blue)
    assert {t.get("tag"): t["percent"] for t in op["value"]}["blue"] == blue
    assert traffic("orders", op["value"]) == []


def test_promote_without_a_staged_green_is_refused(rollout: ModuleType) -> None:
    with pytest.raises(SystemExit, match="stage"):
        rollout.shift_patch(served([{"latestRevision": True, "percent": 100}]), 0)
