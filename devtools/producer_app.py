"""A minimal producing function, wired exactly as users and orders wire the outbox relay.

The eventing tests and the benchmark use it to write outbox rows through a real service
(`python -m devtools.producer_app`, reading the same environment as a function).
"""

from __future__ import annotations

import os
from typing import Any

import msgspec
from litestar import Litestar, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from shop.db import Database
from shop.db.attach import attach_database
from shop.db.settings import DatabaseSettings
from shop.events import outbox
from shop.events.outbox_relay import OutboxRelay, RelaySettings
from shop.runtime.core import Runtime
from shop.runtime.service import create_service_app, runtime_of
from shop.runtime.settings import Settings


class Emit(msgspec.Struct, frozen=True):
    type: str
    source: str
    subject: str
    data: dict[str, Any]


class Emitted(msgspec.Struct, frozen=True):
    id: str


class Wiring:
    db: Database


@post("/emit", status_code=201)
async def emit(data: JSONBody[Emit], wiring: NamedDependency[Wiring]) -> Emitted:
    async with wiring.db.transaction() as tx:
        event_id = await outbox.add(tx, data.type, data.source, data.subject, data.data)
    return Emitted(event_id)


def create_app() -> Litestar:
    settings = Settings.from_environ("producer")
    database = DatabaseSettings.from_environ("producer", os.environ, settings.data_dir)
    relay = OutboxRelay(RelaySettings.from_environ())
    wiring = Wiring()

    async def start(runtime: Runtime) -> None:
        db = await attach_database(runtime, database, [outbox.migration(1)])
        wiring.db = await relay.attach(runtime, db)

    return create_service_app(
        settings,
        route_handlers=[emit, *relay.routes],
        startup=[start],
        register=False,
        dependencies={
            "wiring": Provide(lambda: wiring, sync_to_thread=False),
            **relay.dependencies,
        },
    )


if __name__ == "__main__":
    from shop.runtime.logs import configure_logging
    from shop.runtime.server import serve

    app = create_app()
    runtime = runtime_of(app).settings
    configure_logging(runtime.service, runtime.instance_id, runtime.log_level)
    raise SystemExit(serve(app, runtime))
