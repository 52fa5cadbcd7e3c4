"""The transactional outbox: events are written in the same transaction as the state change
they announce, so no committed change can miss its event. The relay (`shop.events.relay`) publishes
pending rows and marks them sent; consumers dedupe on (source, id).

Columns (times are integer epoch milliseconds): `id` (the CloudEvent id), `type`, `source`,
`subject`, `data` (JSON text), `traceparent` (nullable), `created_at`, `sent_at` (null until
published), `attempts`, `next_attempt_at` (when a relay may try it next) and `claimed_until`
(a relay's lease on the row; null when unclaimed).
"""

from __future__ import annotations

import time
import uuid
from typing import Any, NamedTuple

import msgspec

from shop.db import Transaction, placeholders
from shop.db.migrations import Migration

TABLE_SQL = """
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    subject TEXT NOT NULL,
    data TEXT NOT NULL,
    traceparent TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE sent_at IS NULL
"""


def migration(version: int) -> Migration:
    """The outbox table, as one of a producing service's migrations."""
    return Migration(version, "outbox", TABLE_SQL)


def now_ms() -> int:
    return int(time.time() * 1000)


class Event(NamedTuple):
    """One event for `add_all`: what `add` takes."""

    type: str
    source: str
    subject: str
    data: Any
    traceparent: str | None = None


async def add(
    tx: Transaction,
    type: str,  # noqa: A002 - the CloudEvent attribute's name
    source: str,
    subject: str,
    data: Any,
    *,
    traceparent: str | None = None,
) -> str:
    """Queue one event inside the caller's transaction and register it there (`tx.events`);
    its CloudEvent id. The current trace context is kept with it, so the published event
    continues the request's trace."""
    return (await add_all(tx, [Event(type, source, subject, data, traceparent)]))[0]


async def add_all(tx: Transaction, events: list[Event]) -> list[str]:
    """`add` for many events, in one statement (a batch of writes announces its changes with
    one round trip); their CloudEvent ids, in order. An event without a traceparent keeps the
    current trace context."""
    if not events:
        return []
    current: str | None = None
    if any(event.traceparent is None for event in events):
        from shop.runtime import telemetry

        current = telemetry.traceparent()
    ids = [str(uuid.uuid4()) for _ in events]
    created = now_ms()
    encode = msgspec.json.encode
    await tx.execute(
        "INSERT INTO outbox (id, type, source, subject, data, traceparent, created_at,"  # noqa: S608
        f" next_attempt_at) VALUES {placeholders.rows(8, len(events))}",
        *(
            value
            for event_id, event in zip(ids, events, strict=True)
            for value in (
                event_id,
                event.type,
                event.source,
                event.subject,
                encode(event.data).decode(),
                event.traceparent if event.traceparent is not None else current,
                created,
                created,
            )
        ),
    )
    tx.events.extend(ids)
    return ids
