from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from tests.support.processes import PrivateRedis
from tests.support.services import REDIS_URL, require


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test() -> Iterator[None]:
    """Leaked sockets, transports and clients surface as ResourceWarnings when collected;
    collecting after every test blames the test that leaked, not whichever runs next."""
    yield
    gc.collect()


@pytest.fixture
def redis_url() -> str:
    require(REDIS_URL, "Redis")
    return REDIS_URL


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
