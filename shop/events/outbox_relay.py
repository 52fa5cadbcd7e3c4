"""The outbox relay as a producing function includes it: settings, wiring and the flush route.

    relay = OutboxRelay(settings.relay)                        # in create_app
    db = await relay.attach(runtime, await attach_database(...))  # in the startup hook
    create_service_app(..., route_handlers=[*ROUTES, *relay.routes],
                       dependencies={..., **relay.dependencies})

`attach` returns the database to use: a transaction claims the outbox events registered on it
(`tx.events`) before it commits, and hands them to the relay right after. `POST /outbox/flush`
(the PingSource's sink; it accepts its CloudEvent or an empty POST) publishes every pending row;
it answers only a sender with an event token (`shop.auth.events`), and the relay presents the
token in `EVENTS_OIDC_TOKEN_FILE` (a SinkBinding's /oidc/token) to the broker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import post
from litestar.di import NamedDependency, Provide

from shop.auth.events import (
    EventAuth,
    EventAuthSettings,
    EventClaims,
    TokenFile,
    provide_sender,
)
from shop.db import Database, Transaction
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
    first_sweep_seconds: Annotated[
        float,
        env("OUTBOX_FIRST_SWEEP_SECONDS", "The first sweep after start (rows left pending).", ge=0),
    ] = 1.0
    lease_seconds: Annotated[
        float, env("OUTBOX_LEASE_SECONDS", "How long an instance owns a row it publishes.", ge=1)
    ] = 30.0
    max_backoff_seconds: Annotated[
        float, env("OUTBOX_MAX_BACKOFF_SECONDS", "The longest wait between retries.", ge=0.1)
    ] = 60.0
    token_file: Annotated[
        str,
        env("EVENTS_OIDC_TOKEN_FILE", "The OIDC token presented to the broker (/oidc/token)."),
    ] = ""
    events: EventAuthSettings = msgspec.field(default_factory=EventAuthSettings)
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
            first_sweep_seconds=self.first_sweep_seconds,
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
        self.event_auth = EventAuth(settings.events)
        self.dependencies = {
            "outbox_relay": Provide(lambda: self, sync_to_thread=False),
            "event_auth": Provide(lambda: self.event_auth, sync_to_thread=False),
            "sender": Provide(provide_sender),
        }

    async def attach(self, runtime: Runtime, db: Database) -> Database:
        """Start the relay on `db` (in a startup hook); the database the service should use."""
        if self.settings.sink is None:
            import logging

            logging.getLogger("shop.events.relay").warning(
                "no K_SINK or BROKER_URL: events stay in the outbox until one is configured"
            )
            return db
        from shop.events.poster import Poster

        token = self.settings.token_file
        poster = Poster(token=TokenFile(token) if token else None, timeout=self.settings.timeout)
        publish = http_publisher(poster, self.settings.sink, self.settings.overrides)
        self.relay = Relay(db, publish, self.settings.policy, registry=runtime.metrics.registry)
        self.relay.start()
        runtime.on_close(poster.aclose)
        runtime.on_close(self.relay.stop)
        return PublishOnCommit(db, self.relay)


@post("/outbox/flush", status_code=200, include_in_schema=False)
async def flush_outbox(
    outbox_relay: NamedDependency[OutboxRelay], sender: NamedDependency[EventClaims]
) -> FlushResult:
    relay = outbox_relay.relay
    if relay is None:
        raise Unavailable("No broker is configured (K_SINK or BROKER_URL).", retry_after=60)
    flushed = await relay.flush()
    return FlushResult(flushed.published, flushed.failed, await relay.pending())


class PublishOnCommit:
    """A `Database` whose units of work publish the outbox events they registered
    (`tx.events`, filled by `shop.events.outbox.add`): claimed inside the transaction, in one
    statement, and handed to the relay once it commits. A rolled-back one publishes nothing."""

    def __init__(self, db: Database, relay: Relay) -> None:
        self._db = db
        self._relay = relay
        self.dialect = db.dialect

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[Transaction]:
        async with self._db.transaction(readonly=readonly) as tx:
            yield tx
            claimed = await self._relay.claim_written(tx, tx.events)
        if claimed:
            self._relay.publish_committed(claimed)

    async def ping(self) -> None:
        await self._db.ping()

    async def close(self) -> None:
        await self._db.close()
