"""A trace survives a hop that drops HTTP headers: notifications, a real process exporting OTLP,
continues the trace an event names in its Distributed Tracing extension."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.served import Served
from shop.events.ce import to_binary, to_structured
from tests.support.event_senders import Senders
from tests.support.events import confirmed, jwks_server
from tests.support.otlp import OtlpReceiver, Span
from tests.support.recorder import Recorder
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PRODUCER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def jwks() -> Iterator[Recorder]:
    with jwks_server(TokenFactory()) as server:
        yield server


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


def _consume_spans(otlp: OtlpReceiver, count: int) -> list[Span]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [s for s in otlp.spans() if s.name == "consume shop.order.confirmed.v1"]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise TimeoutError(f"fewer than {count} consume spans")


def test_an_event_without_a_traceparent_header_continues_the_trace_of_its_extension(
    tmp_path: Path, jwks: Recorder, otlp: OtlpReceiver
) -> None:
    env = {
        "SHOP_DATA_DIR": str(tmp_path),
        "REDIS_URL": "",
        "JWKS_URL": jwks.url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    senders = Senders(tmp_path)
    env |= senders.env("notifications")
    notifications = Served("notifications", env)
    try:
        notifications.wait_ready()
        traced = confirmed().with_extensions(traceparent=f"00-{TRACE_ID}-{PRODUCER_SPAN}-01")
        for encode in (to_binary, to_structured):
            headers, body = encode(traced)
            assert "traceparent" not in headers  # the hop dropped the HTTP header
            headers |= senders.headers()  # the Trigger's token, as the broker presents it
            sent = httpx.post(f"{notifications.url}/events", content=body, headers=headers)
            assert sent.status_code == 202, sent.text
        consumed = _consume_spans(otlp, 2)
    finally:
        notifications.stop()
    assert all((s.trace_id, s.parent_id) == (TRACE_ID, PRODUCER_SPAN) for s in consumed)
