"""The outbox relay: publishes outbox rows to the broker as CloudEvents, losing none.

It publishes right after a transaction that wrote outbox rows commits (low latency: the writer's
own transaction claims the rows it wrote, so publishing needs no claim round trip), sweeps at
start-up and on a timer while the instance is up, and whenever `POST /outbox/flush` is called
(an hourly PingSource in Knative: sparse, so an idle function still reaches zero). A row is
marked sent only after a 2xx; a failure waits with exponential backoff. Relays claim rows under
a lease, in one statement: `FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite `BEGIN IMMEDIATE`
serialises the claim. So instances never publish the same row at once; a relay that dies mid-
publish leaves its rows to be claimed again when the lease ends, and consumers dedupe on
(source, id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from shop.db import Database, Row, Transaction, placeholders
from shop.events.ce import CloudEvent, apply_overrides, to_binary
from shop.events.outbox import now_ms
from shop.runtime import telemetry
from shop.runtime.background import Background
from shop.runtime.clock import rfc3339
from shop.runtime.errors import Unavailable
from shop.runtime.retry import Backoff

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from shop.events.poster import Poster

log = logging.getLogger("shop.events.relay")
Publish = Callable[[CloudEvent, str | None], Awaitable[bool]]
# Constant SQL: the claim statement per dialect (PostgreSQL skips rows other relays lock).
_CLAIM = (
    "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1 WHERE id IN ("
    "SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $2"
    " AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY next_attempt_at LIMIT $3{lock})"
    " RETURNING id, type, source, subject, data, traceparent, created_at, attempts"
)
CLAIM = {
    "postgresql": _CLAIM.format(lock=" FOR UPDATE SKIP LOCKED"),
    "sqlite": _CLAIM.format(lock=""),
}


@dataclass(frozen=True, slots=True)
class RelayPolicy:
    batch_size: int = 100
    concurrency: int = 16
    lease_ms: int = 30_000
    base_backoff_ms: int = 500
    max_backoff_ms: int = 60_000
    sweep_seconds: float = 5.0
    first_sweep_seconds: float = 1.0
    retention_ms: int = 7 * 24 * 3600 * 1000

    def backoff_ms(self, attempts: int) -> int:
        """The wait before the next try of a row tried `attempts` times (the one policy)."""
        return int(Backoff(self.base_backoff_ms, self.max_backoff_ms).delay(attempts))


@dataclass(frozen=True, slots=True)
class Flushed:
    published: int = 0
    failed: int = 0


def event_of(row: Row) -> CloudEvent:
    return CloudEvent(
        id=row["id"],
        source=row["source"],
        type=row["type"],
        subject=row["subject"],
        time=rfc3339(int(row["created_at"]) * 1000),
        data=msgspec.Raw(row["data"].encode()),
    )


class Relay:
    def __init__(
        self,
        db: Database,
        publish: Publish,
        policy: RelayPolicy | None = None,
        *,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.db = db
        self.publish = publish
        self.policy = policy or RelayPolicy()
        self._claim_sql = CLAIM["postgresql" if db.dialect == "postgresql" else "sqlite"]
        self._wake = asyncio.Event()
        self._loops = Background()
        self._flushing = asyncio.Lock()
        self._inflight: set[asyncio.Task[None]] = set()
        self._last_cleanup = 0
        self._metrics = _Metrics(registry) if registry is not None else None

    def kick(self) -> None:
        """Sweep soon, instead of waiting for the timer."""
        self._wake.set()

    async def claim_written(self, tx: Transaction, event_ids: list[str]) -> list[Row]:
        """Inside the writer's own transaction: claim the rows it registered (`tx.events`), in
        one statement, so they can be published straight after the commit."""
        if not event_ids:
            return []
        return await tx.fetch(
            "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1"  # noqa: S608
            f" WHERE id IN ({placeholders.listed(len(event_ids), start=2)})"
            " RETURNING id, type, source, subject, data, traceparent, created_at, attempts",
            now_ms() + self.policy.lease_ms,
            *event_ids,
        )

    def publish_committed(self, rows: list[Row]) -> None:
        """Right after the commit: publish rows claimed by `claim_written`, then mark them."""

        async def publish() -> None:
            try:
                sent, retry = await self._publish_all(rows)
                await self._mark(sent, retry)
            except Unavailable:
                pass  # the database is down (logged once by it): the sweep will retry
            except Exception:
                log.exception("publishing after commit failed; the sweep will retry")

        task = asyncio.create_task(publish(), name="outbox-publish")
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    def start(self) -> None:
        self._loops.start("outbox-relay", self._run)

    async def stop(self) -> None:
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=self.policy.lease_ms / 1000)
        await self._loops.stop()

    async def _run(self) -> None:
        # The first sweep runs soon after start: an instance that starts (a cold start from
        # zero, say) publishes what an instance before it left pending, with no ping needed,
        # yet lets the request that woke it go first.
        wait = self.policy.first_sweep_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            wait = self.policy.sweep_seconds
            try:
                await self.flush()
                if self._metrics is not None:
                    self._metrics.pending.set(await self.pending())
            except Unavailable:
                pass  # the database is down (logged once by it): retried on the next sweep
            except Exception:
                log.exception("outbox sweep failed; retrying on the next sweep")

    async def flush(self) -> Flushed:
        """Publish every row that is due now, batch after batch."""
        published = failed = 0
        async with self._flushing:
            while True:
                rows = await self._claim()
                if not rows:
                    break
                sent, retry = await self._publish_all(rows)
                await self._mark(sent, retry)
                published, failed = published + len(sent), failed + len(retry)
                if retry or len(rows) < self.policy.batch_size:
                    break
            await self._cleanup()
        return Flushed(published, failed)

    async def pending(self) -> int:
        async with self.db.transaction(readonly=True) as tx:
            count = await tx.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        return int(count)

    async def _claim(self) -> list[Row]:
        now = now_ms()
        async with self.db.transaction() as tx:
            return await tx.fetch(
                self._claim_sql, now + self.policy.lease_ms, now, self.policy.batch_size
            )

    async def _publish_all(self, rows: list[Row]) -> tuple[list[Row], list[Row]]:
        slots = asyncio.Semaphore(self.policy.concurrency)

        async def one(row: Row) -> bool:
            async with slots:
                return await self._publish_one(row)

        results = await asyncio.gather(*(one(row) for row in rows))
        sent = [row for row, ok in zip(rows, results, strict=True) if ok]
        retry = [row for row, ok in zip(rows, results, strict=True) if not ok]
        return sent, retry

    async def _publish_one(self, row: Row) -> bool:
        parent = {"traceparent": row["traceparent"]} if row["traceparent"] else None
        with telemetry.span(
            f"publish {row['type']}",
            kind="producer",
            carrier=parent,
            attributes={"cloudevents.event_id": row["id"], "cloudevents.event_type": row["type"]},
        ):
            try:
                return await self.publish(event_of(row), row["traceparent"])
            except Exception:
                log.exception("publish failed", extra={"event_id": row["id"]})
                return False

    async def _mark(self, sent: list[Row], retry: list[Row]) -> None:
        now = now_ms()
        async with self.db.transaction() as tx:
            for row in sent:
                await tx.execute(
                    "UPDATE outbox SET sent_at = $1, claimed_until = NULL WHERE id = $2",
                    now,
                    row["id"],
                )
            for row in retry:
                await tx.execute(
                    "UPDATE outbox SET claimed_until = NULL, next_attempt_at = $1 WHERE id = $2",
                    now + self.policy.backoff_ms(int(row["attempts"])),
                    row["id"],
                )
        if self._metrics is not None:
            self._metrics.record(sent, retry, now)

    async def _cleanup(self) -> None:
        now = now_ms()
        if now - self._last_cleanup < 3_600_000:
            return
        self._last_cleanup = now
        async with self.db.transaction() as tx:
            await tx.execute(
                "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1",
                now - self.policy.retention_ms,
            )


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.published = Counter(
            "outbox_published", "Outbox events the broker accepted", registry=registry
        )
        self.failed = Counter(
            "outbox_publish_failures", "Outbox publish attempts that failed", registry=registry
        )
        self.pending = Gauge(
            "outbox_pending",
            "Outbox rows not yet published, as of the last sweep",
            registry=registry,
        )
        self.lag = Histogram(
            "outbox_publish_lag_seconds",
            "From the outbox write to the broker's 2xx",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 120, 600),
            registry=registry,
        )

    def record(self, sent: list[Row], retry: list[Row], now: int) -> None:
        self.published.inc(len(sent))
        self.failed.inc(len(retry))
        for row in sent:
            self.lag.observe(max(0, now - int(row["created_at"])) / 1000)


def http_publisher(
    poster: Poster, sink: str, overrides: Mapping[str, Any] | None = None
) -> Publish:
    """POST each event to the broker in binary mode with its trace context; True on 2xx."""

    async def publish(event: CloudEvent, traceparent: str | None) -> bool:
        if overrides:
            event = apply_overrides(event, overrides)
        trace = {"traceparent": traceparent} if traceparent else {}
        telemetry.inject(trace)  # the publish span's own context, when tracing is on
        # In the headers and in the event (Distributed Tracing extension): the extension
        # survives a hop that drops HTTP headers.
        headers, body = to_binary(event.with_extensions(**trace))
        headers.update(trace)
        try:
            response = await poster.post(sink, content=body, headers=headers)
        except (OSError, TimeoutError) as exc:
            log.info("broker unreachable", extra={"sink": sink, "error": repr(exc)})
            return False
        if response.is_success:
            return True
        log.info("broker refused", extra={"sink": sink, "status": response.status_code})
        return False

    return publish
