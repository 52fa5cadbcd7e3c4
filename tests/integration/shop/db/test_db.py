from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shop.db import Database, IntegrityError
from shop.db.attach import open_database
from shop.db.migrations import Migration, migrate
from shop.db.settings import DatabaseSettings
from shop.runtime.settings import SettingsError
from tests.support.databases import DIALECTS, database_url, migrated

pytestmark = pytest.mark.integration

SCHEMA = [
    Migration(
        1, "things", "CREATE TABLE things (id TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0))"
    ),
    Migration(
        2, "more", "ALTER TABLE things ADD COLUMN label TEXT; CREATE INDEX things_n ON things (n)"
    ),
]


@pytest.fixture(params=DIALECTS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path, "db") as found:
        yield found


@pytest.fixture
async def db(url: str) -> AsyncIterator[Database]:
    async with migrated(url, SCHEMA) as database:
        yield database


async def test_instances_migrating_at_once_apply_each_version_exactly_once(url: str) -> None:
    databases = [await open_database(url, pool_size=2) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(d, SCHEMA) for d in databases))
        assert sorted(v for applied in results for v in applied) == [1, 2]
        async with databases[0].transaction() as tx:
            rows = await tx.fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == [1, 2]
    finally:
        for database in databases:
            await database.close()


async def test_a_unit_of_work_that_raises_leaves_nothing_behind(db: Database) -> None:
    async def fail_midway() -> None:
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO things (id, n) VALUES ($1, $2)", "a", 1)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail_midway()
    async with db.transaction(readonly=True) as tx:
        assert await tx.fetchval("SELECT count(*) FROM things") == 0


async def test_parameters_and_row_counts_behave_alike(db: Database) -> None:
    async with db.transaction() as tx:
        for i in range(3):
            await tx.execute("INSERT INTO things (id, n, label) VALUES ($1, $2, $1)", f"t{i}", i)
        touched = await tx.execute("UPDATE things SET n = n + $1 WHERE n >= $2", 10, 1)
        inserted = await tx.execute(
            "INSERT INTO things (id, n) VALUES ($1, $2) ON CONFLICT DO NOTHING", "t0", 5
        )
        row = await tx.fetchrow("SELECT id, n, label FROM things WHERE id = $1", "t2")
    assert (touched, inserted) == (2, 0)
    assert row is not None
    assert dict(row) == {"id": "t2", "n": 12, "label": "t2"}


async def test_constraint_violations_surface_as_integrity_errors(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO things (id, n) VALUES ($1, $2)", "neg", -1)
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO things (id, n) VALUES ($1, $2)", "x", 1)
    with pytest.raises(IntegrityError):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO things (id, n) VALUES ($1, $2)", "x", 2)


async def test_concurrent_conditional_updates_never_oversell(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO things (id, n) VALUES ($1, $2)", "stock", 10)

    async def take() -> int:
        async with db.transaction() as tx:
            return await tx.execute("UPDATE things SET n = n - 1 WHERE id = $1 AND n >= 1", "stock")

    results = await asyncio.gather(*(take() for _ in range(30)))
    async with db.transaction(readonly=True) as tx:
        left = await tx.fetchval("SELECT n FROM things WHERE id = $1", "stock")
    assert (sum(results), left) == (10, 0)


async def test_a_lock_ends_with_its_transaction_and_a_reused_connection_starts_clean(
    db: Database,
) -> None:
    """The pool hands connections back without a reset query: no state may outlive a unit."""

    async def held_lock_then_failed() -> None:
        async with db.transaction() as tx:
            await tx.lock(42)
            await tx.execute("INSERT INTO things (id, n) VALUES ($1, $2)", "lock", 1)
            raise RuntimeError("boom")

    for _ in range(8):  # more units than the pool has connections
        with pytest.raises(RuntimeError):
            await held_lock_then_failed()

    async def take_lock() -> None:
        async with db.transaction() as tx:
            await tx.lock(42)

    await asyncio.wait_for(asyncio.gather(*(take_lock() for _ in range(8))), timeout=10)
    async with db.transaction(readonly=True) as tx:
        assert await tx.fetchval("SELECT COUNT(*) FROM things") == 0


def test_settings_default_to_a_sqlite_file_per_service(tmp_path: Path) -> None:
    settings = DatabaseSettings.from_environ("orders", {}, str(tmp_path))
    assert settings.url == f"sqlite:///{tmp_path.resolve() / 'orders.db'}"
    assert settings.dialect == "sqlite"


def test_settings_build_a_postgres_url_from_the_db_variables() -> None:
    environ = {"DB_HOST": "db", "DB_PORT": "6432", "DB_USER": "shop", "DB_PASSWORD": "p@ss word"}
    settings = DatabaseSettings.from_environ("users", environ, ".data")
    assert settings.url == "postgresql://shop:p%40ss%20word@db:6432/users"
    assert "p%40ss" not in settings.redacted


def test_settings_refuse_an_unknown_database_scheme() -> None:
    with pytest.raises(SettingsError):
        DatabaseSettings.from_environ("users", {"DATABASE_URL": "mysql://x"}, ".data")


async def test_opening_a_sqlite_file_waits_out_a_writer_still_in_rollback_mode(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "busy.db")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("CREATE TABLE t (n INTEGER)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    opening = asyncio.ensure_future(open_database(f"sqlite:///{path}", pool_size=1))
    await asyncio.sleep(0.5)
    assert not opening.done()
    writer.execute("COMMIT")
    writer.close()
    database = await asyncio.wait_for(opening, 15)
    try:
        async with database.transaction() as tx:
            assert await tx.fetchval("PRAGMA journal_mode") == "wal"
            assert await tx.fetchval("SELECT n FROM t") == 1
    finally:
        await database.close()


async def test_a_unit_of_work_that_raises_gives_its_connection_back(url: str) -> None:
    database = await open_database(url, pool_size=1)

    async def fail() -> None:
        async with asyncio.timeout(10), database.transaction() as tx:
            await tx.fetchval("SELECT 1")
            raise RuntimeError("boom")

    try:
        for _ in range(3):  # with one connection, a leaked one would block the next at once
            with pytest.raises(RuntimeError):
                await fail()
        async with asyncio.timeout(10), database.transaction() as tx:
            assert await tx.fetchval("SELECT 1") == 1
    finally:
        await asyncio.wait_for(database.close(), 10)


async def test_a_unit_of_work_cancelled_while_it_waits_to_begin_leaves_no_transaction_open(
    tmp_path: Path,
) -> None:
    """As an order's claim heartbeat, cancelled when its order ends while its BEGIN waits for
    the write lock: that BEGIN still runs on the database's thread once the lock frees, and
    must not leave the connection in a transaction (every later one failed at once, a 500,
    and the file's write lock stayed held by the instance)."""
    path = tmp_path / "cancelled.db"
    database = await open_database(f"sqlite:///{path}", pool_size=1)
    outside = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        outside.execute("BEGIN EXCLUSIVE")

        async def renew() -> None:
            async with database.transaction() as tx:
                await tx.fetchval("SELECT 1")

        waiting = asyncio.ensure_future(renew())
        await asyncio.sleep(0.3)  # its BEGIN IMMEDIATE waits for the lock on the thread
        waiting.cancel()
        await asyncio.sleep(0.1)
        outside.execute("ROLLBACK")  # the BEGIN goes through now
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(waiting, 10)
        async with asyncio.timeout(10), database.transaction() as tx:
            assert await tx.fetchval("SELECT 1") == 1
        outside.execute("BEGIN IMMEDIATE")  # and the instance holds no lock
        outside.execute("ROLLBACK")
    finally:
        outside.close()
        await asyncio.wait_for(database.close(), 10)
