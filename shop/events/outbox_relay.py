"""The outbox relay as a producing function includes it: settings, wiring and the flush route.

    relay = OutboxRelay(settings.relay)                        # in create_app
    db = await relay.attach(runtime, await attach_database(...))  # in the startup hook
    create_service_app(..., route_handlers=[*ROUTES, *relay.routes],
                       dependencies={..., **relay.dependencies})

`attach` returns the database to use: a transaction that writes outbox rows also claims them,
and they are published right after its commit. `POST /outbox/flush` (the PingSource's sink;
it accepts the PingSource's CloudEvent or an empty POST) publishes every pending row now.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import post
from litestar.di import NamedDependency, Provide

from shop.db import Database, Row, Transaction
from shop.events.ce import parse_overrides
from shop.events.relay import Relay, RelayPolicy, http_publisher
from shop.runtime.errors import Unavailable
from shop.runtime.schema import Schema, SettingsError, env, parse

if TYPE_CHECKING:
    from shop.runtime.core import Runtime


class RelaySettings(Schema, frozen=True, kw_only=True):
    """`K_SINK` (from a SinkBinding) wins over `BROKER_URL`; neither means: do not publish."""

    k_sink: Annotated[
        str | None, env("K_SINK", "Set by a SinkBinding: where events are published.")
    ] = None
    broker_url: Annotated[
        str | None, env("BROKER_URL", "Where events are published when K_SINK is unset.")
    ] = None
    ce_overrides: Annotated[
        str | None, env("K_CE_OVERRIDES", "Set by a SinkBinding: JSON overrides of CloudEvents.")
    ] = None
    batch_size: Annotated[
        int, env("OUTBOX_BATCH_SIZE", "Outbox rows published per sweep batch.", ge=1)
    ] = 100
    sweep_seconds: Annotated[
        float, env("OUTBOX_SWEEP_SECONDS", "How often unpublished rows are retried.", ge=0.05)
    ] = 5.0
    lease_seconds: Annotated[
        float, env("OUTBOX_LEASE_SECONDS", "How long an instance owns a row it publishes.", ge=1)
    ] = 30.0
    max_backoff_seconds: Annotated[
        float, env("OUTBOX_MAX_BACKOFF_SECONDS", "The longest wait between retries.", ge=0.1)
    ] = 60.0
    timeout: float = 5.0

    def __post_init__(self) -> None:
        sink = self.sink
        if sink is not None and not sink.startswith(("http://", "https://")):
            raise SettingsError(f"K_SINK/BROKER_URL must be an http(s) URL, got {sink!r}")
        try:
            parse_overrides(self.ce_overrides)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> RelaySettings:
        return parse(cls, environ)

    @property
    def sink(self) -> str | None:
        return self.k_sink or self.broker_url or None

    @property
    def overrides(self) -> dict[str, Any]:
        return parse_overrides(self.ce_overrides)

    @property
    def policy(self) -> RelayPolicy:
        return RelayPolicy(
            batch_size=self.batch_size,
            sweep_seconds=self.sweep_seconds,
            lease_ms=int(self.lease_seconds * 1000),
            max_backoff_ms=int(self.max_backoff_seconds * 1000),
        )


class FlushResult(msgspec.Struct, frozen=True):
    published: int
    failed: int
    pending: int


class OutboxRelay:
    def __init__(self, settings: RelaySettings) -> None:
        self.settings = settings
        self.relay: Relay | None = None
        self.routes = [flush_outbox]
        self.dependencies = {"outbox_relay": Provide(lambda: self, sync_to_thread=False)}

    async def attach(self, runtime: Runtime, db: Database) -> Database:
        """Start the relay on `db` (in a startup hook); the database the service should use."""
        if self.settings.sink is None:
            import logging

            logging.getLogger("shop.events.relay").warning(
                "no K_SINK or BROKER_URL: events stay in the outbox until one is configured"
            )
            return db
        import httpx

        client = httpx.AsyncClient(timeout=self.settings.timeout)
        publish = http_publisher(client, self.settings.sink, self.settings.overrides)
        self.relay = Relay(db, publish, self.settings.policy, registry=runtime.metrics.registry)
        self.relay.start()
        runtime.on_close(client.aclose)
        runtime.on_close(self.relay.stop)
        return Observed(db, self.relay)


@post("/outbox/flush", status_code=200, include_in_schema=False)
async def flush_outbox(outbox_relay: NamedDependency[OutboxRelay]) -> FlushResult:
    relay = outbox_relay.relay
    if relay is None:
        raise Unavailable("No broker is configured (K_SINK or BROKER_URL).", retry_after=60)
    flushed = await relay.flush()
    return FlushResult(flushed.published, flushed.failed, await relay.pending())


class Observed:
    """A `Database` whose transactions publish the outbox rows they wrote, after the commit."""

    def __init__(self, db: Database, relay: Relay) -> None:
        self._db = db
        self._relay = relay
        self.dialect = db.dialect

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[Transaction]:
        async with self._db.transaction(readonly=readonly) as tx:
            watched = _Watched(tx, self._relay)
            yield watched
        if watched.written:
            self._relay.publish_committed(watched.written)

    async def ping(self) -> None:
        await self._db.ping()

    async def close(self) -> None:
        await self._db.close()


class _Watched:
    def __init__(self, tx: Transaction, relay: Relay) -> None:
        self._tx = tx
        self._relay = relay
        self.written: list[Row] = []

    async def execute(self, sql: str, *args: Any) -> int:
        count = await self._tx.execute(sql, *args)
        if sql.startswith("INSERT INTO outbox (id,") and count == 1:
            row = await self._relay.claim_written(self._tx, args[0])  # `id` is the first value
            if row is not None:
                self.written.append(row)
        return count

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._tx.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await self._tx.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._tx.fetchval(sql, *args)

    async def lock(self, key: int) -> None:
        await self._tx.lock(key)
