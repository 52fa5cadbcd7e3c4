"""`POST /outbox/flush` (the PingSource's sink on users and orders) takes only its PingSource's
token, and the relay presents its SinkBinding's token to the broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from devtools.broker.oidc_issuer import token_path
from shop.auth.events import EventAuthSettings
from shop.db import Database
from shop.db.attach import attach_database
from shop.db.settings import DatabaseSettings
from shop.events import outbox
from shop.events.outbox_relay import OutboxRelay, RelaySettings
from shop.runtime.core import Runtime
from shop.runtime.service import create_service_app
from shop.runtime.settings import Settings
from tests.support.event_senders import ORDERS_PING, TRIGGER, USERS_PING, Senders
from tests.support.recorder import Recorder

pytestmark = pytest.mark.integration


@pytest.fixture
def broker() -> Iterator[Recorder]:
    with Recorder() as recorder:
        yield recorder


def _app(tmp_path: Path, broker: Recorder, found: dict[str, Database]) -> Litestar:
    senders = Senders(tmp_path)
    env = senders.env("orders")
    relay = OutboxRelay(
        RelaySettings(
            broker_url=broker.url + "/default/default",
            sweep_seconds=60,
            token_file=env["EVENTS_OIDC_TOKEN_FILE"],
            events=EventAuthSettings.from_environ(env),
        )
    )

    async def start(runtime: Runtime) -> None:
        database = DatabaseSettings(url=f"sqlite:///{tmp_path / 'orders.db'}")
        found["raw"] = await attach_database(runtime, database, [outbox.migration(1)])
        found["db"] = await relay.attach(runtime, found["raw"])

    return create_service_app(
        Settings(service="orders"),
        route_handlers=relay.routes,
        startup=[start],
        register=False,
        dependencies=relay.dependencies,
    )


async def _pending(db: Database) -> None:
    async with db.transaction() as tx:  # a row left pending, as after an outage
        await outbox.add(tx, "shop.order.cancelled.v1", "/orders", "o1", {"order_id": "o1"})


@pytest.mark.parametrize(
    "attack",
    ["no token", "another audience", "expired", "foreign issuer key", "foreign issuer name"],
)
async def test_a_flush_without_the_pingsources_token_is_401_and_publishes_nothing(
    tmp_path: Path, broker: Recorder, attack: str
) -> None:
    found: dict[str, Database] = {}
    async with AsyncTestClient(_app(tmp_path, broker, found)) as client:
        await _pending(found["raw"])
        forged = Senders(tmp_path).attacks("orders", ORDERS_PING)[attack]
        response = await client.post("/outbox/flush", headers=forged)
        assert response.status_code == 401
        assert broker.on("/default/default") == []


@pytest.mark.parametrize("stranger", [USERS_PING, TRIGGER])
async def test_another_senders_token_is_403(
    tmp_path: Path, broker: Recorder, stranger: str
) -> None:
    found: dict[str, Database] = {}
    async with AsyncTestClient(_app(tmp_path, broker, found)) as client:
        await _pending(found["raw"])
        headers = Senders(tmp_path).headers("orders", sub=stranger)
        assert (await client.post("/outbox/flush", headers=headers)).status_code == 403
        assert broker.on("/default/default") == []


async def test_the_pingsources_token_flushes_and_the_relay_presents_its_sinkbinding_token(
    tmp_path: Path, broker: Recorder
) -> None:
    found: dict[str, Database] = {}
    token = token_path(tmp_path, "orders-to-broker")
    token.parent.mkdir(parents=True)
    token.write_text("the-sinkbindings-token\n")
    async with AsyncTestClient(_app(tmp_path, broker, found)) as client:
        await _pending(found["raw"])
        headers = Senders(tmp_path).headers("orders", sub=ORDERS_PING)
        response = await client.post("/outbox/flush", headers=headers)
        assert response.status_code == 200
        assert response.json()["pending"] == 0
    (published,) = broker.on("/default/default")
    assert published.headers["authorization"] == "Bearer the-sinkbindings-token"
