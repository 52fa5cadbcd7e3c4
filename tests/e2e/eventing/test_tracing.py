"""Traces across the event hop: producer request -> outbox -> publish -> broker -> consumer.

Every process exports OTLP/HTTP to an in-test receiver that decodes the protobuf. The consumer
continues the producer's trace as its parent (through `traceparent`), so it is one trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.served import Served
from tests.e2e.eventing.conftest import TOKENS
from tests.support.event_senders import Senders
from tests.support.otlp import OtlpReceiver, Span
from tests.support.recorder import Recorder

pytestmark = pytest.mark.e2e


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


def tracing_env(otlp: OtlpReceiver) -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}


def parent_of(span: Span, spans: list[Span]) -> Span:
    (parent,) = [s for s in spans if s.span_id == span.parent_id]
    return parent


def ancestors(span: Span, spans: list[Span]) -> list[Span]:
    found = []
    by_id = {s.span_id: s for s in spans}
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        found.append(span)
    return found


def test_one_trace_from_the_producers_request_to_the_consumers_handling(
    tmp_path: Path, otlp: OtlpReceiver, jwks: Recorder
) -> None:
    env = {"SHOP_DATA_DIR": str(tmp_path), "REDIS_URL": "", "JWKS_URL": jwks.url}
    traced = {**env, **tracing_env(otlp)}
    senders = Senders(tmp_path)
    notifications = Served("notifications", {**traced, **senders.env("notifications")})
    broker = Served("broker", {**traced, "NOTIFICATIONS_URL": notifications.url})
    producer = Served(
        "producer",
        {**traced, **senders.env("orders"), "BROKER_URL": f"{broker.url}/default/default"},
        module="devtools.producer_app",
    )
    try:
        for process in (notifications, broker, producer):
            process.wait_ready()
        data = {
            "order_id": "o1",
            "user_id": "u1",
            "email": "u1@example.com",
            "items": [],
            "total": {"amount": 0, "currency": "EUR"},
        }
        emitted = httpx.post(
            f"{producer.url}/emit",
            json={
                "type": "shop.order.confirmed.v1",
                "source": "/orders",
                "subject": "o1",
                "data": data,
            },
        )
        assert emitted.status_code == 201, emitted.text
        consume = otlp.wait_for_span("notifications", "consume shop.order.confirmed.v1")
        otlp.wait_for_span("producer", "POST /emit")
        inbox = httpx.get(
            f"{notifications.url}/notifications",
            headers={"authorization": f"Bearer {TOKENS.token('u1')}"},
        )
        assert len(inbox.json()["items"]) == 1
        logs = notifications.output()
    finally:
        for process in (producer, broker, notifications):
            process.stop()
    stored = [line for line in logs.splitlines() if '"notification stored"' in line]
    assert f'"trace_id":"{consume.trace_id}"' in stored[0]  # logs carry the trace id
    spans = [s for s in otlp.spans() if s.trace_id == consume.trace_id]
    chain = [(s.service, s.kind, s.name) for s in [consume, *ancestors(consume, spans)]]
    assert chain[0] == ("notifications", "consumer", "consume shop.order.confirmed.v1")
    assert chain[1] == ("notifications", "server", "POST /events")
    assert ("broker", "producer", "broker deliver notifications-order-confirmed") in chain
    assert ("broker", "server", "POST /{namespace}/{name}") in chain
    assert ("producer", "producer", "publish shop.order.confirmed.v1") in chain
    assert chain[-1] == ("producer", "server", "POST /emit")
    services = {s.service for s in spans}
    assert services == {"producer", "broker", "notifications"}
    sql = [s for s in spans if s.service == "notifications" and s.kind == "client"]
    assert any("INSERT" in s.name or "INSERT" in s.attributes.get("db.statement", "") for s in sql)
