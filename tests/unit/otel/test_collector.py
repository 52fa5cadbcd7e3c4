from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CONFIG = Path(__file__).resolve().parents[3] / "otel" / "collector.yaml"


def _config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    return loaded


def test_every_pipeline_component_is_defined() -> None:
    config = _config()
    for name, pipeline in config["service"]["pipelines"].items():
        for role, section in (
            ("receivers", ("receivers", "connectors")),
            ("processors", ("processors",)),
            ("exporters", ("exporters", "connectors")),
        ):
            for component in pipeline.get(role, []):
                assert any(component in config.get(s, {}) for s in section), (name, component)


def test_memory_limiter_runs_first_and_batch_last() -> None:
    for pipeline in _config()["service"]["pipelines"].values():
        assert pipeline["processors"][0] == "memory_limiter"
        assert pipeline["processors"][-1] == "batch"


def test_otlp_grpc_and_http_in_jaeger_and_spanmetrics_to_prometheus_out() -> None:
    config = _config()
    assert set(config["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    traces = config["service"]["pipelines"]["traces"]
    assert {"otlp/jaeger", "spanmetrics"} <= set(traces["exporters"])
    metrics = config["service"]["pipelines"]["metrics/spanmetrics"]
    assert metrics["receivers"] == ["spanmetrics"]
    assert metrics["exporters"] == ["prometheus"]
