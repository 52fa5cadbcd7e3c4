"""A database that is unreachable or busy is a 503 with Retry-After, never a 500; the pool
recovers by itself; an outage logs its changes of state, not a line per request.

PostgreSQL runs as a throwaway cluster the test starts and restarts; SQLite is locked from
outside by another connection holding `BEGIN EXCLUSIVE`."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from functions.products.app import create_app
from functions.products.settings import ProductsSettings
from shop.auth.service_token import resolve
from shop.db import DatabaseUnavailable
from shop.db.attach import open_database
from tests.support.inprocess import serving
from tests.support.pg_cluster import ThrowawayCluster
from tests.support.services import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    started = ThrowawayCluster()
    try:
        yield started
    finally:
        started.close()


def products(url: str, directory: Path) -> ProductsSettings:
    return ProductsSettings.from_environ(
        {
            "DATABASE_URL": url,
            "USERS_URL": f"http://127.0.0.1:{free_port()}",  # reads need no token
            "SHOP_DATA_DIR": str(directory),
            "SHOP_DEMO_CATALOG": "1",
            "DB_BUSY_TIMEOUT_SECONDS": "0.5",
            "DB_POOL_SIZE": "4",
        }
    )


@pytest.fixture
async def pg_products(cluster: ThrowawayCluster, tmp_path: Path) -> AsyncIterator[str]:
    url = cluster.database(f"products_{uuid.uuid4().hex[:8]}")
    async with serving(create_app(products(url, tmp_path))) as served:
        yield served


def assert_answer_is_ok_or_a_503(response: httpx.Response) -> None:
    if response.status_code == 503:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert int(response.headers["retry-after"]) >= 1
    else:
        assert response.status_code == 200, response.text


def lines(records: list[logging.LogRecord]) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in records if r.levelno >= logging.WARNING]


async def test_a_postgresql_restart_gives_503s_with_retry_after_never_a_500_and_recovers(
    cluster: ThrowawayCluster, pg_products: str, caplog: pytest.LogCaptureFixture
) -> None:
    statuses: list[int] = []
    async with httpx.AsyncClient(base_url=pg_products, timeout=30) as client:

        async def read() -> None:
            response = await client.get("/products", params={"limit": 5})
            assert_answer_is_ok_or_a_503(response)
            statuses.append(response.status_code)

        await asyncio.gather(*(read() for _ in range(8)))  # every pooled connection in use
        caplog.clear()
        await asyncio.to_thread(cluster.stop)
        for _ in range(10):  # down: answered at once, never a 500
            await asyncio.gather(*(read() for _ in range(4)))
        await asyncio.to_thread(cluster.start)
        for _ in range(40):  # up again: the pool's dead connections are replaced by itself
            await asyncio.gather(*(read() for _ in range(4)))
            if statuses[-4:] == [200] * 4:
                break
            await asyncio.sleep(0.1)
        metrics = (await client.get("/metrics")).text
    assert statuses[:8] == [200] * 8
    assert statuses.count(503) >= 40  # every request while it was down
    assert statuses[-4:] == [200] * 4
    logged = lines(caplog.records)
    assert len(logged) <= 3, logged  # down, up (and a background loop's one line at most)
    assert not [r for r in caplog.records if r.exc_info], "no tracebacks"
    counted = [line for line in metrics.splitlines() if line.startswith("db_unavailable_total{")]
    assert counted
    assert float(counted[0].rsplit(" ", 1)[1]) >= statuses.count(503)


async def test_idle_connections_left_dead_by_a_restart_are_replaced_without_an_error(
    cluster: ThrowawayCluster,
) -> None:
    url = cluster.database(f"pool_{uuid.uuid4().hex[:8]}")
    database = await open_database(url, pool_size=3)
    try:

        async def one() -> int:
            async with database.transaction() as tx:
                await asyncio.sleep(0.05)
                return int(await tx.fetchval("SELECT 1"))

        assert list(await asyncio.gather(one(), one(), one())) == [
            1,
            1,
            1,
        ]  # three open connections
        await asyncio.to_thread(cluster.restart)
        assert await one() == 1
        assert list(await asyncio.gather(one(), one(), one())) == [1, 1, 1]
    finally:
        await database.close()


async def test_an_unreachable_postgresql_is_database_unavailable_at_the_port(
    cluster: ThrowawayCluster,
) -> None:
    url = cluster.database(f"gone_{uuid.uuid4().hex[:8]}")
    database = await open_database(url, pool_size=2)
    try:
        await asyncio.to_thread(cluster.stop)
        with pytest.raises(DatabaseUnavailable) as raised:
            async with database.transaction() as tx:
                await tx.fetchval("SELECT 1")
        assert raised.value.retry_after >= 1
    finally:
        await asyncio.to_thread(cluster.start)
        await database.close()


async def reserve(client: httpx.AsyncClient, token: str, product_id: str) -> httpx.Response:
    body = {"order_id": str(uuid.uuid4()), "items": [{"product_id": product_id, "quantity": 1}]}
    return await client.post(
        "/internal/reservations", json=body, headers={"X-Internal-Token": token}
    )


async def test_an_sqlite_lock_held_from_outside_is_a_503_then_success_once_released(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "products.db"
    app = create_app(products(f"sqlite:///{path}", tmp_path))
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        token = resolve("", str(tmp_path))
        product = (await client.get("/products", params={"limit": 1})).json()["items"][0]
        assert (await reserve(client, token, product["id"])).status_code == 201
        caplog.clear()
        outside = sqlite3.connect(path, isolation_level=None)
        try:
            outside.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
            for _ in range(3):
                busy = await reserve(client, token, product["id"])
                assert busy.status_code == 503, busy.text
                assert busy.headers["content-type"].startswith("application/problem+json")
                assert int(busy.headers["retry-after"]) >= 1
        finally:
            outside.execute("ROLLBACK")
            outside.close()
        assert (await reserve(client, token, product["id"])).status_code == 201
    logged = lines(caplog.records)
    assert len(logged) <= 2, logged  # down, up
    assert not [r for r in caplog.records if r.exc_info], "no tracebacks"


async def test_a_unit_of_work_cancelled_while_it_begins_gives_its_connection_back(
    cluster: ThrowawayCluster,
) -> None:
    """Its server process stopped, a BEGIN waits; cancelled then, the connection still goes
    back to the pool (with one connection, a leaked one blocks every later unit of work)."""
    url = cluster.database(f"cancel_{uuid.uuid4().hex[:8]}")
    database = await open_database(url, pool_size=1)
    try:
        async with database.transaction() as tx:
            backend = int(await tx.fetchval("SELECT pg_backend_pid()"))

        async def begin() -> None:
            async with database.transaction() as tx:
                await tx.fetchval("SELECT 1")

        os.kill(backend, signal.SIGSTOP)
        try:
            waiting = asyncio.ensure_future(begin())
            await asyncio.sleep(0.3)  # its BEGIN is sent: the stopped backend does not answer
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(waiting, 10)
        finally:
            os.kill(backend, signal.SIGCONT)
        async with asyncio.timeout(10), database.transaction() as tx:
            assert await tx.fetchval("SELECT 1") == 1
    finally:
        await asyncio.wait_for(database.close(), 10)
