"""Every content mode the official `cloudevents` SDK makes, sent to every endpoint taking events.

Endpoints, each a real process: notifications' `POST /events` and `POST /dead-letters`, and the
local broker's ingress (`POST /{namespace}/{name}` and `POST /`). Producers: the SDK's current
API (`cloudevents.core`) and its older one (`cloudevents.v1`), in binary and structured mode.
Each event must be accepted (2xx) and come out as it went in: stored (notifications) or
forwarded (broker, read back with the SDK itself). Batches are refused with 415: Knative never
delivers them and its Broker ingress does not take them.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from cloudevents.core.bindings import http as sdk_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkEvent
from cloudevents.v1 import conversion as legacy_conversion
from cloudevents.v1.http import CloudEvent as LegacyEvent

from devtools.served import Served
from tests.support.event_senders import Senders
from tests.support.events import jwks_server, order_data
from tests.support.recorder import Recorder
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration
TOKENS = TokenFactory()
EXTENSIONS = {"tenant": "eu-1", "priority": 5, "traceparent": f"00-{'ab' * 16}-{'cd' * 8}-01"}
Made = tuple[dict[str, str], bytes]
MANIFESTS = """
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: everything}
spec:
  broker: default
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: notifications}
    uri: /events
"""


def _core(binary: bool) -> Callable[[dict[str, Any], Any], Made]:
    def make(attributes: dict[str, Any], data: Any) -> Made:
        event = SdkEvent(dict(attributes), data)
        encode = sdk_http.to_binary if binary else sdk_http.to_structured
        message = encode(event, JSONFormat())
        return message.headers, message.body

    return make


def _legacy(binary: bool) -> Callable[[dict[str, Any], Any], Made]:
    def make(attributes: dict[str, Any], data: Any) -> Made:
        event = LegacyEvent(dict(attributes), data)
        encode = legacy_conversion.to_binary if binary else legacy_conversion.to_structured
        headers, body = encode(event)
        return {k: str(v) for k, v in headers.items()}, body

    return make


PRODUCERS = {
    "core-binary": _core(True),
    "core-structured": _core(False),
    "legacy-binary": _legacy(True),
    "legacy-structured": _legacy(False),
}
_orders = itertools.count()


def _attributes(event_type: str = "shop.order.confirmed.v1") -> dict[str, Any]:
    order = f"o{next(_orders)}"
    return {
        "id": str(uuid.uuid4()),
        "source": "/orders",
        "type": event_type,
        "subject": order,
        **EXTENSIONS,
    }


def _sent(attributes: dict[str, Any], data: Any) -> dict[str, Any]:
    """What must come out: the attributes we chose (extensions as their canonical strings)."""
    ours = {k: str(v) if k in EXTENSIONS else v for k, v in attributes.items()}
    return {**ours, "data": data}


@pytest.fixture(scope="module")
def jwks() -> Iterator[Recorder]:
    with jwks_server(TOKENS) as server:
        yield server


@pytest.fixture(scope="module")
def senders(tmp_path_factory: pytest.TempPathFactory) -> Senders:
    """The local issuer both processes share, as under `shop up`: event senders need tokens."""
    return Senders(tmp_path_factory.mktemp("senders"))


@pytest.fixture(scope="module")
def notifications(jwks: Recorder, senders: Senders) -> Iterator[Served]:
    env = {"REDIS_URL": "", "JWKS_URL": jwks.url, "SHOP_DATA_DIR": str(senders.data_dir)}
    served = Served("notifications", env | senders.env("notifications"))
    try:
        served.wait_ready(60)
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def subscriber() -> Iterator[Recorder]:
    with Recorder() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def broker(
    tmp_path_factory: pytest.TempPathFactory, subscriber: Recorder, senders: Senders
) -> Iterator[Served]:
    manifests = tmp_path_factory.mktemp("conformance")
    (manifests / "eventing.yaml").write_text(MANIFESTS)
    env = {
        "BROKER_MANIFESTS": str(manifests),
        "REDIS_URL": "",
        "NOTIFICATIONS_URL": subscriber.url,
        "SHOP_DATA_DIR": str(senders.data_dir),
    }
    served = Served("broker", env)
    try:
        served.wait_ready(60)
        yield served
    finally:
        served.stop()


@pytest.mark.parametrize("producer", PRODUCERS)
def test_notifications_events_takes_every_sdk_mode_and_stores_the_event(
    producer: str, notifications: Served, senders: Senders
) -> None:
    attributes = _attributes()
    user = f"u-{attributes['subject']}"
    data = order_data(attributes["subject"], user)
    headers, body = PRODUCERS[producer](attributes, data)
    headers |= senders.headers()
    sent = httpx.post(f"{notifications.url}/events", content=body, headers=headers)
    assert sent.status_code == 202, sent.text
    inbox = httpx.get(
        f"{notifications.url}/notifications",
        headers={"authorization": f"Bearer {TOKENS.token(user)}"},
    ).json()["items"]
    assert [(n["event_id"], n["kind"]) for n in inbox] == [(attributes["id"], "order_confirmed")]


@pytest.mark.parametrize("producer", PRODUCERS)
def test_notifications_dead_letters_takes_every_sdk_mode_and_keeps_the_whole_event(
    producer: str, notifications: Served, senders: Senders
) -> None:
    attributes = _attributes("shop.anything.v1")
    data = {"any": ["json", 1, None]}
    headers, body = PRODUCERS[producer](attributes, data)
    headers |= senders.headers()
    sent = httpx.post(f"{notifications.url}/dead-letters", content=body, headers=headers)
    assert sent.status_code == 202, sent.text
    admin = {"authorization": f"Bearer {TOKENS.token('admin', 'admin')}"}
    letters = httpx.get(f"{notifications.url}/dead-letters?limit=100", headers=admin)
    letters = letters.json()["items"]
    (kept,) = [letter["event"] for letter in letters if letter["event_id"] == attributes["id"]]
    assert {k: kept[k] for k in (*attributes, "data")} == _sent(attributes, data)


@pytest.mark.parametrize("path", ["/default/default", "/"])
@pytest.mark.parametrize("producer", PRODUCERS)
def test_the_broker_ingress_takes_every_sdk_mode_and_forwards_the_event_unchanged(
    producer: str, path: str, broker: Served, subscriber: Recorder, senders: Senders
) -> None:
    attributes = _attributes()
    data = {"order_id": attributes["subject"], "note": 'ü "quoted" 100%'}
    headers, body = PRODUCERS[producer](attributes, data)
    sent = httpx.post(f"{broker.url}{path}", content=body, headers=headers | senders.to_broker())
    assert sent.status_code == 202, sent.text
    assert sent.content == b""
    forwarded = _forwarded(subscriber, attributes["id"])
    assert {k: forwarded[k] for k in (*attributes, "data")} == _sent(attributes, data)
    assert "knativearrivaltime" in forwarded  # the Broker adds it, as Knative's does


def _forwarded(subscriber: Recorder, event_id: str) -> dict[str, Any]:
    """The delivered event with the given id, read by the SDK (attributes and data)."""
    for count in itertools.count(1):
        delivered = subscriber.wait_for("/events", count)
        for request in delivered:
            message = sdk_http.HTTPMessage(request.headers, request.body)
            event = sdk_http.from_http(message, JSONFormat())
            if event.get_id() == event_id:
                return {**event.get_attributes(), "data": event.get_data()}
    raise AssertionError("unreachable")


@pytest.mark.parametrize("target", ["notifications/events", "notifications/dead-letters", "broker"])
def test_a_batch_is_refused_with_415_problem_json_everywhere(
    target: str, notifications: Served, broker: Served, senders: Senders
) -> None:
    event = SdkEvent(_attributes(), {"order_id": "o1"})
    batch = b"[" + JSONFormat().write(event) + b"]"
    service, _, path = target.partition("/")
    url = f"{notifications.url}/{path}" if service == "notifications" else f"{broker.url}/"
    token = senders.headers() if service == "notifications" else senders.to_broker()
    batch_type = {"content-type": "application/cloudevents-batch+json"}
    refused = httpx.post(url, content=batch, headers=batch_type | token)
    assert refused.status_code == 415
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["status"] == 415
