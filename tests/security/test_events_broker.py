"""Attacks on the local broker's ingress (the stand-in for Knative's, with `authentication-oidc`
and the shipped EventPolicy): only the producers' SinkBindings and the replay account may
publish; what it delivers carries a token the subscriber can verify."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.broker.oidc_issuer import REPLAY_ACCOUNT, audience, subject, token_path
from devtools.served import Served
from shop.auth.events import EventClaims
from shop.events.ce import new_event, to_binary
from tests.support.event_senders import BROKER, ORDERS_BINDING, TRIGGER, Senders
from tests.support.recorder import Recorded, Recorder

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("broker")


@pytest.fixture(scope="module")
def subscriber() -> Iterator[Recorder]:
    with Recorder() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def broker(data_dir: Path, subscriber: Recorder) -> Iterator[Served]:
    env = {"REDIS_URL": "", "SHOP_DATA_DIR": str(data_dir), "NOTIFICATIONS_URL": subscriber.url}
    served = Served("broker", {**env, "USERS_URL": subscriber.url, "ORDERS_URL": subscriber.url})
    try:
        served.wait_ready()
        yield served
    finally:
        served.stop()


def _offer(broker: Served, headers: dict[str, str], order: str) -> httpx.Response:
    event = new_event("shop.order.confirmed.v1", "/orders", {"order_id": order}, subject=order)
    ce, body = to_binary(event)
    return httpx.post(f"{broker.url}/default/default", content=body, headers={**ce, **headers})


def _delivered(subscriber: Recorder, order: str) -> list[Recorded]:
    return [r for r in subscriber.on("/events") if r.headers.get("ce-subject") == order]


@pytest.mark.parametrize(
    "attack", ["no token", "another audience", "expired", "foreign issuer key", "garbage"]
)
def test_an_event_without_a_valid_token_is_401_and_goes_nowhere(
    broker: Served, subscriber: Recorder, data_dir: Path, attack: str
) -> None:
    name = attack.replace(" ", "-")
    forged = Senders(data_dir).attacks("notifications", ORDERS_BINDING)[attack]
    if attack == "another audience":
        forged = Senders(data_dir).headers("notifications", sub=ORDERS_BINDING)
    response = _offer(broker, forged, f"forged-{name}")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    marker = f"marker-{name}"
    assert _offer(broker, Senders(data_dir).to_broker(), marker).status_code == 202
    _wait(subscriber, marker)  # published after the attack, and arrived
    assert _delivered(subscriber, f"forged-{name}") == []


def test_a_verified_sender_no_eventpolicy_names_is_403(
    broker: Served, subscriber: Recorder, data_dir: Path
) -> None:
    response = _offer(broker, Senders(data_dir).to_broker(sub=TRIGGER), "stranger")
    assert response.status_code == 403
    assert _delivered(subscriber, "stranger") == []


def test_the_sinkbinding_token_file_is_admitted_and_deliveries_carry_a_trigger_token(
    broker: Served, subscriber: Recorder, data_dir: Path
) -> None:
    token = token_path(data_dir, "orders-to-broker").read_text()
    assert _offer(broker, {"authorization": f"Bearer {token}"}, "good").status_code == 202
    (delivered,) = _wait(subscriber, "good")
    presented = delivered.headers["authorization"].removeprefix("Bearer ")
    verifier = Senders(data_dir).issuer.verifier(audience("Service", "notifications"))
    claims = asyncio.run(verifier.verify_as(presented, EventClaims))
    assert claims.sub.endswith("-oidc-eventing.knative.dev-trigger")
    assert claims.sub.startswith("system:serviceaccount:shop:notifications-")


def test_the_replay_account_may_publish(broker: Served, data_dir: Path) -> None:
    replay = Senders(data_dir).token(subject(REPLAY_ACCOUNT), BROKER)
    assert _offer(broker, {"authorization": f"Bearer {replay}"}, "replay").status_code == 202


def _wait(subscriber: Recorder, order: str) -> list[Recorded]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = _delivered(subscriber, order)
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"{order} was not delivered")
