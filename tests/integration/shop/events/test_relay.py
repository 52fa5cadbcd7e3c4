"""The outbox relay on real SQLite and PostgreSQL, publishing to a real HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shop.db import Database
from shop.db.attach import open_database
from shop.events import outbox
from shop.events.ce import CloudEvent, from_http
from shop.events.outbox_relay import PublishOnCommit
from shop.events.poster import Poster
from shop.events.relay import Relay, RelayPolicy, http_publisher
from tests.support.databases import DIALECTS, database_url, migrated
from tests.support.recorder import Recorder, Reply

pytestmark = pytest.mark.integration
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
POLICY = RelayPolicy(batch_size=10, base_backoff_ms=50, max_backoff_ms=200, sweep_seconds=0.2)


@pytest.fixture(params=DIALECTS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path, "relay") as found:
        yield found


@pytest.fixture
async def db(url: str) -> AsyncIterator[Database]:
    async with migrated(url, [outbox.migration(1)]) as database:
        yield database


@pytest.fixture
def broker() -> Iterator[Recorder]:
    with Recorder() as recorder:
        yield recorder


@pytest.fixture
async def client() -> AsyncIterator[Poster]:
    poster = Poster(timeout=5)
    yield poster
    poster.close()


async def _write(db: Database, count: int, *, traceparent: str | None = None) -> list[str]:
    ids = []
    async with db.transaction() as tx:
        for n in range(count):
            ids.append(
                await outbox.add(
                    tx,
                    "shop.order.confirmed.v1",
                    "/orders",
                    f"o{n}",
                    {"order_id": f"o{n}", "n": n},
                    traceparent=traceparent,
                )
            )
    return ids


def _published(broker: Recorder) -> list[CloudEvent]:
    return [from_http(r.headers, r.body) for r in broker.on("/")]


async def _sent_and_attempts(db: Database) -> list[tuple[bool, int]]:
    async with db.transaction(readonly=True) as tx:
        rows = await tx.fetch("SELECT sent_at, attempts FROM outbox ORDER BY created_at")
    return [(row["sent_at"] is not None, row["attempts"]) for row in rows]


async def test_rows_are_published_in_binary_mode_and_marked_sent(
    db: Database, broker: Recorder, client: Poster
) -> None:
    ids = await _write(db, 3, traceparent=TRACEPARENT)
    relay = Relay(db, http_publisher(client, broker.url + "/"), POLICY)
    flushed = await relay.flush()
    assert (flushed.published, flushed.failed) == (3, 0)
    events = _published(broker)
    assert sorted(e.id for e in events) == sorted(ids)
    assert {e.data["order_id"] for e in events} == {"o0", "o1", "o2"}
    assert all(
        r.headers["ce-id"] and r.headers["traceparent"] == TRACEPARENT for r in broker.on("/")
    )
    assert await _sent_and_attempts(db) == [(True, 1)] * 3
    assert (await relay.flush()).published == 0
    assert len(broker.on("/")) == 3


async def test_the_trace_context_also_travels_in_the_distributed_tracing_extension(
    db: Database, broker: Recorder, client: Poster
) -> None:
    await _write(db, 1, traceparent=TRACEPARENT)
    await _write(db, 1)
    relay = Relay(db, http_publisher(client, broker.url + "/"), POLICY)
    assert (await relay.flush()).published == 2
    traced, untraced = sorted(_published(broker), key=lambda e: "traceparent" not in e.extensions)
    assert traced.extensions["traceparent"] == TRACEPARENT
    assert "traceparent" not in untraced.extensions


async def test_a_row_is_marked_sent_only_after_a_2xx_and_retried_with_backoff(
    db: Database, broker: Recorder, client: Poster
) -> None:
    broker.script = [Reply(503), Reply(202)]
    await _write(db, 1)
    relay = Relay(db, http_publisher(client, broker.url + "/"), POLICY)
    assert (await relay.flush()).failed == 1
    assert await _sent_and_attempts(db) == [(False, 1)]
    assert (await relay.flush()).published == 0  # not due yet: backing off
    await asyncio.sleep(0.1)
    assert (await relay.flush()).published == 1
    assert await _sent_and_attempts(db) == [(True, 2)]


async def test_an_unreachable_broker_leaves_rows_pending(db: Database) -> None:
    await _write(db, 2)
    relay = Relay(db, http_publisher(Poster(timeout=0.5), "http://127.0.0.1:9/"), POLICY)
    assert (await relay.flush()).failed == 2
    assert await relay.pending() == 2


async def test_concurrent_relays_never_publish_a_row_twice(
    url: str, db: Database, broker: Recorder, client: Poster
) -> None:
    ids = await _write(db, 60)
    other = await open_database(url, pool_size=4)
    try:
        relays = [
            Relay(database, http_publisher(client, broker.url + "/"), POLICY)
            for database in (db, other, db, other)
        ]
        results = await asyncio.gather(*(relay.flush() for relay in relays))
    finally:
        await other.close()
    assert sum(r.published for r in results) == 60
    published = [e.id for e in _published(broker)]
    assert sorted(published) == sorted(ids)  # every row once, none twice


async def test_a_claimed_row_waits_for_its_lease_to_end(
    db: Database, broker: Recorder, client: Poster
) -> None:
    await _write(db, 1)
    async with db.transaction() as tx:
        await tx.execute("UPDATE outbox SET claimed_until = $1", outbox.now_ms() + 300)
    relay = Relay(db, http_publisher(client, broker.url + "/"), POLICY)
    assert (await relay.flush()).published == 0  # another relay holds it
    await asyncio.sleep(0.35)
    assert (await relay.flush()).published == 1  # that relay died: the lease ran out


async def test_committed_rows_are_published_right_after_the_commit_and_only_once(
    db: Database, broker: Recorder, client: Poster
) -> None:
    relay = Relay(db, http_publisher(client, broker.url + "/"), RelayPolicy(sweep_seconds=30))
    ids = await _write(PublishOnCommit(db, relay), 3)  # no sweep runs: the commit itself publishes
    sweeps = await asyncio.gather(*(relay.flush() for _ in range(3)))  # racing sweeps skip them
    await asyncio.to_thread(broker.wait_for, "/", 3, 5.0)
    await relay.stop()  # waits for the publishing to finish
    assert sum(s.published for s in sweeps) == 0
    assert sorted(e.id for e in _published(broker)) == sorted(ids)
    assert await _sent_and_attempts(db) == [(True, 1)] * 3
    assert await relay.pending() == 0


async def test_only_events_registered_on_the_transaction_are_published_at_its_commit(
    db: Database, broker: Recorder, client: Poster
) -> None:
    relay = Relay(db, http_publisher(client, broker.url + "/"), RelayPolicy(sweep_seconds=30))
    async with PublishOnCommit(db, relay).transaction() as tx:
        registered = await outbox.add(tx, "shop.order.confirmed.v1", "/orders", "o1", {})
        await tx.execute(  # the same row, written without registering it
            "INSERT INTO outbox (id, type, source, subject, data, traceparent, created_at,"
            " next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            "unregistered",
            "shop.order.confirmed.v1",
            "/orders",
            "o2",
            "{}",
            None,
            outbox.now_ms(),
        )
        assert tx.events == [registered]
    await asyncio.to_thread(broker.wait_for, "/", 1, 5.0)
    await relay.stop()
    assert [e.id for e in _published(broker)] == [registered]
    assert await relay.pending() == 1  # the other waits for a sweep


async def test_events_added_together_are_registered_and_published_each_as_added(
    db: Database, broker: Recorder, client: Poster
) -> None:
    relay = Relay(db, http_publisher(client, broker.url + "/"), RelayPolicy(sweep_seconds=30))
    trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with PublishOnCommit(db, relay).transaction() as tx:
        ids = await outbox.add_all(
            tx,
            [
                outbox.Event("shop.order.confirmed.v1", "/orders", f"o{n}", {"n": n}, trace)
                for n in range(3)
            ],
        )
        assert tx.events == ids
        assert len(set(ids)) == 3
    await asyncio.to_thread(broker.wait_for, "/", 3, 5.0)
    await relay.stop()
    published = {e.id: e for e in _published(broker)}
    assert sorted(published) == sorted(ids)
    for n, event_id in enumerate(ids):
        assert published[event_id].subject == f"o{n}"
        assert published[event_id].data == {"n": n}
        assert published[event_id].extensions["traceparent"] == trace
    assert await relay.pending() == 0


async def test_a_traced_transaction_shares_its_events_with_the_one_it_wraps(
    db: Database, broker: Recorder, client: Poster
) -> None:
    from shop.db.trace import TracedDatabase

    relay = Relay(db, http_publisher(client, broker.url + "/"), RelayPolicy(sweep_seconds=30))
    ids = await _write(PublishOnCommit(TracedDatabase(db), relay), 2)
    await asyncio.to_thread(broker.wait_for, "/", 2, 5.0)
    await relay.stop()
    assert sorted(e.id for e in _published(broker)) == sorted(ids)


async def test_rolled_back_rows_are_never_published(
    db: Database, broker: Recorder, client: Poster
) -> None:
    relay = Relay(db, http_publisher(client, broker.url + "/"), POLICY)

    async def failing_order() -> None:
        async with PublishOnCommit(db, relay).transaction() as tx:
            await outbox.add(tx, "shop.order.confirmed.v1", "/orders", "o1", {})
            raise RuntimeError("the order failed")

    with pytest.raises(RuntimeError):
        await failing_order()
    assert (await relay.flush()).published == 0
    assert broker.on("/") == []


async def test_the_relay_reports_published_failed_and_pending_as_metrics(
    db: Database, broker: Recorder, client: Poster
) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    broker.script = [Reply(503), Reply(202)]
    await _write(db, 1)
    relay = Relay(db, http_publisher(client, broker.url + "/"), POLICY, registry=registry)
    relay.start()
    try:
        await _write(db, 1)
        for _ in range(100):
            if await relay.pending() == 0:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # one more sweep sets the gauge
    finally:
        await relay.stop()
    text = generate_latest(registry).decode()
    assert "outbox_published_total 2.0" in text
    assert "outbox_publish_failures_total 1.0" in text
    assert "outbox_pending 0.0" in text
    assert "outbox_publish_lag_seconds_count 2.0" in text


async def test_a_starting_relay_publishes_what_an_earlier_instance_left_with_no_ping(
    db: Database, broker: Recorder, client: Poster
) -> None:
    ids = await _write(db, 2)  # written by an instance that went away before publishing
    policy = RelayPolicy(sweep_seconds=3600, first_sweep_seconds=0.05)
    relay = Relay(db, http_publisher(client, broker.url + "/"), policy)
    relay.start()  # a cold start: no flush call, no kick, and the next timed sweep is an hour off
    try:
        await asyncio.to_thread(broker.wait_for, "/", 2, 10.0)
    finally:
        await relay.stop()
    assert sorted(e.id for e in _published(broker)) == sorted(ids)
