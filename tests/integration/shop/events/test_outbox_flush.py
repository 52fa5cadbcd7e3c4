"""`POST /outbox/flush` in a real service app, on a real database and HTTP broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from shop.auth.events import EventAuthSettings
from shop.db import Database
from shop.db.attach import attach_database
from shop.db.settings import DatabaseSettings
from shop.events import outbox
from shop.events.outbox_relay import OutboxRelay, RelaySettings
from shop.runtime.core import Runtime
from shop.runtime.service import create_service_app
from shop.runtime.settings import Settings
from tests.support.event_senders import ORDERS_PING, Senders
from tests.support.recorder import Recorder

pytestmark = pytest.mark.integration


@pytest.fixture
def broker() -> Iterator[Recorder]:
    with Recorder() as recorder:
        yield recorder


def _app(tmp_path: Path, sink: str | None, found: dict[str, Database]) -> Litestar:
    events = EventAuthSettings.from_environ(Senders(tmp_path).env("orders"))
    relay = OutboxRelay(
        RelaySettings(broker_url=sink, sweep_seconds=60, first_sweep_seconds=60, events=events)
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


async def test_flush_publishes_what_is_pending(tmp_path: Path, broker: Recorder) -> None:
    found: dict[str, Database] = {}
    app = _app(tmp_path, broker.url + "/default/default", found)
    async with AsyncTestClient(app) as client:
        broker.script = []
        async with found["raw"].transaction() as tx:  # a row left pending, as after an outage
            await outbox.add(tx, "shop.order.cancelled.v1", "/orders", "o1", {"order_id": "o1"})
        ping = {
            "ce-id": "p1",
            "ce-source": "/apis/v1/namespaces/default/pingsources/orders-outbox-flush",
            "ce-type": "dev.knative.sources.ping",
            "ce-specversion": "1.0",
            "content-type": "application/json",
            **Senders(tmp_path).headers("orders", sub=ORDERS_PING),
        }
        response = await client.post("/outbox/flush", content=b"{}", headers=ping)
        assert response.status_code == 200
        assert response.json()["pending"] == 0
        empty = await client.post(
            "/outbox/flush", headers=Senders(tmp_path).headers("orders", sub=ORDERS_PING)
        )
        assert empty.json() == {"published": 0, "failed": 0, "pending": 0}
    assert len(broker.on("/default/default")) == 1


async def test_flush_without_a_broker_is_503_and_keeps_the_rows(tmp_path: Path) -> None:
    found: dict[str, Database] = {}
    async with AsyncTestClient(_app(tmp_path, None, found)) as client:
        response = await client.post(
            "/outbox/flush", headers=Senders(tmp_path).headers("orders", sub=ORDERS_PING)
        )
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
