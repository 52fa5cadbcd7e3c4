"""The local broker as a real process, delivering to real HTTP subscribers."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.served import Served
from shop.events.ce import CloudEvent, from_http, new_event, to_binary, to_structured
from tests.support.event_senders import Senders
from tests.support.recorder import Recorder, Reply

pytestmark = pytest.mark.e2e
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

MANIFESTS = """
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
spec:
  delivery:
    retry: 3
    backoffPolicy: exponential
    backoffDelay: PT0.1S
    deadLetterSink:
      ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: notifications}
      uri: /dead-letters
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: confirmed}
spec:
  broker: default
  filter: {attributes: {type: shop.order.confirmed.v1, source: /orders}}
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: notifications}
    uri: /events
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: replies}
spec:
  broker: default
  filter: {attributes: {type: shop.reply.v1}}
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: notifications}
    uri: /replies
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: orders-outbox-flush}
spec:
  schedule: "* * * * * *"
  contentType: application/json
  data: '{"reason": "sweep"}'
  sink:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: orders}
    uri: /outbox/flush
"""


@pytest.fixture(scope="module")
def shared_subscriber() -> Iterator[Recorder]:
    with Recorder() as recorder:
        yield recorder


@pytest.fixture
def subscriber(shared_subscriber: Recorder, broker: Served) -> Recorder:
    shared_subscriber.requests.clear()
    shared_subscriber.script = []
    shared_subscriber.respond = None
    return shared_subscriber


@pytest.fixture(scope="module")
def eventing_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eventing")


@pytest.fixture(scope="module")
def senders(eventing_dir: Path) -> Senders:
    return Senders(eventing_dir)


@pytest.fixture(scope="module")
def broker(eventing_dir: Path, shared_subscriber: Recorder) -> Iterator[Served]:
    tmp_path = eventing_dir
    (tmp_path / "eventing.yaml").write_text(MANIFESTS)
    served = Served(
        "broker",
        {
            "BROKER_MANIFESTS": str(tmp_path),
            "REDIS_URL": "",
            "NOTIFICATIONS_URL": shared_subscriber.url,
            "ORDERS_URL": shared_subscriber.url,
            "SHOP_DATA_DIR": str(tmp_path),
            "BROKER_PARK_RETRY_SECONDS": "0.3",
        },
    )
    try:
        served.wait_ready()
        yield served
    finally:
        served.stop()


def _confirmed() -> CloudEvent:
    return new_event("shop.order.confirmed.v1", "/orders", {"order_id": "o1"}, subject="o1")


def _publish(
    broker: Served, senders: Senders, event: CloudEvent, *, structured: bool = False
) -> httpx.Response:
    headers, body = to_structured(event) if structured else to_binary(event)
    return httpx.post(
        f"{broker.url}/default/default",
        content=body,
        headers={**headers, "traceparent": TRACEPARENT, **senders.to_broker()},
    )


def test_an_accepted_event_reaches_the_matching_trigger_with_its_traceparent(
    senders: Senders, broker: Served, subscriber: Recorder
) -> None:
    event = _confirmed()
    accepted = _publish(broker, senders, event, structured=True)
    assert accepted.status_code == 202
    assert accepted.content == b""
    assert "application/json" not in accepted.headers.get("content-type", "")
    (delivered,) = subscriber.wait_for("/events")
    assert delivered.headers["traceparent"] == TRACEPARENT
    assert delivered.headers["ce-id"] == event.id  # binary mode on the way out
    received = from_http(delivered.headers, delivered.body)
    assert received.data == {"order_id": "o1"}
    assert "knativearrivaltime" in received.extensions


def test_events_no_trigger_matches_are_accepted_and_go_nowhere(
    senders: Senders, broker: Served, subscriber: Recorder
) -> None:
    other = new_event("shop.order.confirmed.v1", "/elsewhere", {})
    assert _publish(broker, senders, other).status_code == 202
    assert _publish(broker, senders, _confirmed()).status_code == 202
    subscriber.wait_for("/events")
    assert [from_http(r.headers, r.body).source for r in subscriber.on("/events")] == ["/orders"]


def test_invalid_events_and_unknown_brokers_are_refused(broker: Served, senders: Senders) -> None:
    forged = {"ce-id": "1", **senders.to_broker()}
    bad = httpx.post(f"{broker.url}/default/default", content=b"{}", headers=forged)
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    headers, body = to_binary(_confirmed())
    assert (
        httpx.post(f"{broker.url}/default/nope", content=body, headers=headers).status_code == 404
    )


def test_retryable_failures_are_retried_with_exponential_backoff(
    senders: Senders, broker: Served, subscriber: Recorder
) -> None:
    answers = [Reply(503), Reply(429), Reply(202)]

    def respond(recorded: object) -> Reply:
        if getattr(recorded, "path", "") != "/events":
            return Reply(202)  # the PingSource's pings
        return answers.pop(0) if len(answers) > 1 else answers[0]

    subscriber.respond = respond
    _publish(broker, senders, _confirmed())
    attempts = subscriber.wait_for("/events", 3)
    gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.09
    assert gaps[1] >= 0.19  # 0.1 s, then 0.2 s
    assert subscriber.on("/dead-letters") == []


def test_after_the_last_retry_the_event_goes_to_the_dead_letter_sink(
    senders: Senders, broker: Served, subscriber: Recorder
) -> None:
    subscriber.respond = lambda r: Reply(500, b"boom") if r.path == "/events" else Reply(202)
    event = _confirmed()
    _publish(broker, senders, event)
    (dead,) = subscriber.wait_for("/dead-letters")
    assert len(subscriber.on("/events")) == 4  # the first attempt and 3 retries
    letter = from_http(dead.headers, dead.body)
    assert letter.id == event.id
    assert letter.extensions["knativeerrorcode"] == "500"
    assert letter.extensions["knativeerrordest"].endswith("/events")
    assert base64.b64decode(letter.extensions["knativeerrordata"]) == b"boom"


def test_a_400_goes_straight_to_the_dead_letter_sink_without_retry(
    senders: Senders, broker: Served, subscriber: Recorder
) -> None:
    subscriber.respond = lambda r: Reply(400) if r.path == "/events" else Reply(202)
    _publish(broker, senders, _confirmed())
    subscriber.wait_for("/dead-letters")
    assert len(subscriber.on("/events")) == 1


def test_a_reply_event_goes_back_into_the_broker(
    senders: Senders, broker: Served, subscriber: Recorder
) -> None:
    reply = new_event("shop.reply.v1", "/notifications", {"ok": True})
    headers, body = to_binary(reply)

    def respond(recorded: object) -> Reply:
        path = getattr(recorded, "path", "")
        return Reply(200, body, headers) if path == "/events" else Reply(202)

    subscriber.respond = respond
    _publish(broker, senders, _confirmed())
    (delivered,) = subscriber.wait_for("/replies")
    assert from_http(delivered.headers, delivered.body).id == reply.id


def test_pingsources_fire_on_their_schedule(broker: Served, subscriber: Recorder) -> None:
    pings = subscriber.wait_for("/outbox/flush", 2, timeout=5)
    assert pings[1].at - pings[0].at > 0.5
    event = from_http(pings[0].headers, pings[0].body)
    assert event.type == "dev.knative.sources.ping"
    assert event.source == "/apis/v1/namespaces/default/pingsources/orders-outbox-flush"
    assert pings[0].body == b'{"reason": "sweep"}'


def test_a_dead_letter_the_sink_refuses_is_parked_and_delivered_when_the_sink_is_back(
    senders: Senders, broker: Served, subscriber: Recorder
) -> None:
    sink_up = False

    def respond(recorded: object) -> Reply:
        path = getattr(recorded, "path", "")
        if path == "/events":
            return Reply(400)
        return Reply(202) if sink_up else Reply(503)

    subscriber.respond = respond
    event = _confirmed()
    _publish(broker, senders, event)
    subscriber.wait_for("/dead-letters", 4)  # the sink refused the first attempt and 3 retries
    sink_up = True
    letters = subscriber.wait_for("/dead-letters", 5, timeout=10)
    assert from_http(letters[-1].headers, letters[-1].body).id == event.id
