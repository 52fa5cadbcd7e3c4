"""An accepted event survives any stop of the broker: SIGKILL or SIGTERM, with deliveries pending.

Real processes: `python -m devtools serve broker` on a data directory, a real HTTP subscriber that
refuses everything while the broker goes down, and a second broker on the same data directory.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.served import Served
from shop.events.ce import from_http, new_event, to_binary
from tests.support.event_senders import Senders
from tests.support.recorder import Recorder, Reply

pytestmark = pytest.mark.e2e
EVENTS = 40

MANIFESTS = """
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
spec:
  delivery:
    retry: 10000
    backoffPolicy: linear
    backoffDelay: PT0.05S
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: confirmed}
spec:
  broker: default
  filter: {attributes: {type: shop.order.confirmed.v1}}
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: notifications}
    uri: /events
"""


@pytest.fixture
def subscriber() -> Iterator[Recorder]:
    with Recorder() as recorder:
        yield recorder


def _broker(data: Path, subscriber: Recorder) -> Served:
    served = Served(
        "broker",
        {
            "BROKER_MANIFESTS": str(data),
            "REDIS_URL": "",
            "NOTIFICATIONS_URL": subscriber.url,
            "SHOP_DATA_DIR": str(data),
            "BROKER_TIME_SCALE": "0.1",  # retry waits of 5 ms: many attempts while it is down
        },
    )
    served.wait_ready()
    return served


def _accepted_while_the_subscriber_refuses(
    tmp_path: Path, subscriber: Recorder
) -> tuple[Served, set[str]]:
    (tmp_path / "eventing.yaml").write_text(MANIFESTS)
    subscriber.respond = lambda _: Reply(503)
    broker = _broker(tmp_path, subscriber)
    ids = set()
    with httpx.Client(timeout=10) as client:
        for n in range(EVENTS):
            event = new_event("shop.order.confirmed.v1", "/orders", {"n": n})
            headers, body = to_binary(event)
            headers |= Senders(tmp_path).to_broker()  # a producer's SinkBinding token
            answer = client.post(f"{broker.url}/default/default", content=body, headers=headers)
            assert answer.status_code == 202
            ids.add(event.id)
    subscriber.wait_for("/events", EVENTS)  # deliveries are under way, and failing
    return broker, ids


def _delivered_ids(subscriber: Recorder, ids: set[str]) -> set[str]:
    """The ids the subscriber accepted (202) once back; waits until all arrived, or 30 s."""
    deadline = time.monotonic() + 30
    while True:
        delivered = {from_http(r.headers, r.body).id for r in subscriber.on("/events")}
        if ids <= delivered or time.monotonic() > deadline:
            return delivered
        time.sleep(0.05)


def _accept_from_now_on(subscriber: Recorder) -> None:
    subscriber.requests.clear()
    subscriber.respond = lambda _: Reply(202)


def test_events_accepted_before_a_sigkill_are_delivered_after_the_restart(
    tmp_path: Path, subscriber: Recorder
) -> None:
    broker, ids = _accepted_while_the_subscriber_refuses(tmp_path, subscriber)
    broker.signal(signal.SIGKILL)
    broker.wait(10)
    _accept_from_now_on(subscriber)
    restarted = _broker(tmp_path, subscriber)
    try:
        assert _delivered_ids(subscriber, ids) >= ids
    finally:
        broker.stop()
        restarted.stop()


def test_a_graceful_stop_keeps_pending_deliveries_for_the_next_start(
    tmp_path: Path, subscriber: Recorder
) -> None:
    broker, ids = _accepted_while_the_subscriber_refuses(tmp_path, subscriber)
    broker.signal(signal.SIGTERM)
    assert broker.wait(30) == 0
    _accept_from_now_on(subscriber)
    restarted = _broker(tmp_path, subscriber)
    try:
        assert _delivered_ids(subscriber, ids) >= ids
    finally:
        broker.stop()
        restarted.stop()
