from __future__ import annotations

import json
import logging

from shop.runtime.logs import JsonFormatter, request_id


def render(record: logging.LogRecord) -> dict[str, object]:
    line = JsonFormatter("orders", "inst-1").format(record)
    assert "\n" not in line
    parsed: dict[str, object] = json.loads(line)
    return parsed


def make(message: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "shop.test", "levelname": "INFO", "msg": message})
    record.__dict__.update(extra)
    return record


def test_a_log_line_is_one_json_object_with_the_standard_fields() -> None:
    line = render(make("order placed"))
    assert line["message"] == "order placed"
    assert line["level"] == "info"
    assert line["service"] == "orders"
    assert line["instance_id"] == "inst-1"
    assert str(line["timestamp"]).endswith("Z")


def test_the_request_id_of_the_current_request_is_included() -> None:
    token = request_id.set("req-42")
    try:
        assert render(make("hello"))["request_id"] == "req-42"
    finally:
        request_id.reset(token)
    assert "request_id" not in render(make("outside a request"))


def test_secrets_passed_as_fields_are_redacted() -> None:
    line = render(make("login", password="hunter2hunter2", authorization="Bearer x", user="ann"))
    assert line["password"] == "[redacted]"
    assert line["authorization"] == "[redacted]"
    assert line["user"] == "ann"


def test_an_active_span_adds_trace_and_span_ids() -> None:
    import sys
    import types as std_types

    class Context:
        is_valid = True
        trace_id = 0x0AF7651916CD43DD8448EB211C80319C
        span_id = 0x00F067AA0BA902B7

    class Span:
        def get_span_context(self) -> Context:
            return Context()

    fake = std_types.ModuleType("opentelemetry.trace")
    fake.get_current_span = Span  # type: ignore[attr-defined]
    saved = sys.modules.get("opentelemetry.trace")
    sys.modules["opentelemetry.trace"] = fake
    try:
        line = render(make("traced"))
    finally:
        if saved is None:
            del sys.modules["opentelemetry.trace"]
        else:
            sys.modules["opentelemetry.trace"] = saved
    assert line["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert line["span_id"] == "00f067aa0ba902b7"
