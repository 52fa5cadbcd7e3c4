"""Opening a database and attaching it to an instance: `shop.db` itself holds only the ports
(Database, Transaction, Row) and errors, so the adapters and the tracing wrapper import it and
it imports none of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shop.db import Database
    from shop.db.migrations import Migration
    from shop.db.settings import DatabaseSettings
    from shop.runtime.core import Runtime


async def open_database(url: str, *, pool_size: int = 5, busy_timeout: float = 5.0) -> Database:
    """`busy_timeout`: how long a statement waits for a lock (SQLite's busy timeout,
    PostgreSQL's command timeout) before the database counts as busy."""
    if url.startswith(("postgresql://", "postgres://")):
        from shop.db.postgres import PostgresDatabase

        return await PostgresDatabase.open(url, pool_size=pool_size, busy_timeout=busy_timeout)
    if url.startswith("sqlite:///"):
        from shop.db.sqlite import SqliteDatabase

        return await SqliteDatabase.open(url.removeprefix("sqlite:///"), busy_timeout=busy_timeout)
    raise ValueError("DATABASE_URL must start with postgresql:// or sqlite:///")


async def attach_database(
    runtime: Runtime, settings: DatabaseSettings, migrations: Sequence[Migration]
) -> Database:
    """In a lifespan: open the database, migrate it, watch it for readiness, close it last."""
    from shop.db.availability import Availability, WatchedDatabase
    from shop.db.migrations import migrate
    from shop.db.trace import traced

    opened = await open_database(
        settings.url, pool_size=settings.pool_size, busy_timeout=settings.busy_timeout
    )
    availability = Availability(runtime.settings.service, runtime.metrics.registry)
    database = traced(WatchedDatabase(opened, availability))
    runtime.on_close(database.close)
    await migrate(database, migrations)
    runtime.health.add_check("database", database.ping, liveness=False)
    return database
