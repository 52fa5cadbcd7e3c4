"""Tracing is configured by OTEL_* only, and costs nothing when off. Each case runs in a fresh
interpreter, since an OpenTelemetry tracer provider is global to a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from shop.runtime import telemetry

ROOT = Path(__file__).resolve().parents[4]
PROBE = """
import json, sys
from functions.notifications.app import create_app
from shop.runtime import telemetry
create_app()
with telemetry.span("probe"):
    current = telemetry.traceparent()
print(json.dumps({
    "enabled": telemetry.enabled(),
    "sdk": sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk")),
    "exporter": any(m.startswith("opentelemetry.exporter") for m in sys.modules),
    "traceparent": current,
}))
"""


def _probe(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**clean, "SHOP_DATA_DIR": "/nonexistent-unused", **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_without_an_endpoint_tracing_is_off_and_the_sdk_is_never_imported() -> None:
    found = _probe()
    assert found == {"enabled": False, "sdk": [], "exporter": False, "traceparent": None}


def test_an_otlp_endpoint_turns_tracing_on_with_w3c_trace_context() -> None:
    found = _probe(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    assert found["enabled"] is True
    assert found["exporter"] is True
    traceparent = str(found["traceparent"])
    assert traceparent.startswith("00-")
    assert len(traceparent) == 55


def test_the_sdk_switches_and_the_none_exporter_keep_tracing_off() -> None:
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert telemetry.wanted(endpoint)
    assert telemetry.wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"})
    assert not telemetry.wanted({**endpoint, "OTEL_SDK_DISABLED": "true"})
    assert not telemetry.wanted({**endpoint, "OTEL_TRACES_EXPORTER": "none"})
    assert not telemetry.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "})


def test_helpers_are_no_ops_while_tracing_is_off() -> None:
    headers: dict[str, str] = {}
    with telemetry.span("nothing", kind="producer", carrier={"traceparent": "00-x"}):
        telemetry.inject(headers)
    assert headers == {}
    assert telemetry.traceparent() is None


PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_an_event_continues_its_extension_trace_only_when_the_request_header_lacks_one() -> None:
    carried = {"traceparent": PARENT, "tracestate": "k=v", "other": "x"}
    assert telemetry.event_carrier({}, carried) == {"traceparent": PARENT, "tracestate": "k=v"}
    assert telemetry.event_carrier({"TraceParent": PARENT}, carried) is None
    assert telemetry.event_carrier({}, {"tracestate": "k=v"}) is None
    assert telemetry.event_carrier({}, {}) is None
