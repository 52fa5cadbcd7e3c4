from __future__ import annotations

import gc
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.support.processes import PrivateRedis
from tests.support.services import redis_url as session_redis_url
from tests.support.services import stop_started

_SESSION_DATA = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--collect-garbage-each-test",
        action="store_true",
        help="collect garbage after every test, to find which test leaks a socket or transport",
    )


@pytest.fixture(autouse=True)
def _collect_garbage_where_asked(request: pytest.FixtureRequest) -> Iterator[None]:
    """A leaked socket, transport or client surfaces as a ResourceWarning when collected.
    pytest collects once at the end of the session, so a leak fails the run anyway; tests marked
    `collect_garbage` (and every test under --collect-garbage-each-test) collect right after
    themselves, so the warning blames the test that leaked. Not for every test: a full collection
    after each one doubled the unit suite's time."""
    yield
    if request.node.get_closest_marker("collect_garbage") or request.config.getoption(
        "collect_garbage_each_test"
    ):
        gc.collect()


CHECKOUT_DATA = Path(__file__).resolve().parents[1] / ".data"


def pytest_configure(config: pytest.Config) -> None:
    """Whatever a test starts without naming a data directory (a `shop` command, an app built
    from the environment) keeps its files in a tmp dir of the session, not in the checkout."""
    if "SHOP_DATA_DIR" not in os.environ:
        config.stash[_SESSION_DATA] = tempfile.mkdtemp(prefix="shop-test-data-")
        os.environ["SHOP_DATA_DIR"] = config.stash[_SESSION_DATA]


def pytest_unconfigure(config: pytest.Config) -> None:
    stop_started()
    if (made := config.stash.get(_SESSION_DATA, None)) is not None:
        os.environ.pop("SHOP_DATA_DIR", None)
        shutil.rmtree(made, ignore_errors=True)


@pytest.fixture(scope="session")
def _checkout_had_data() -> bool:
    return CHECKOUT_DATA.exists()


@pytest.fixture(autouse=True)
def _the_test_leaves_no_data_in_the_checkout(_checkout_had_data: bool) -> Iterator[None]:
    """Tests keep their data in tmp dirs; the checkout's .data is the developer's `shop up`.
    (When a .data was there before the session, this cannot tell, and checks nothing.)"""
    yield
    if not _checkout_had_data and CHECKOUT_DATA.exists():
        found = sorted(p.name for p in CHECKOUT_DATA.iterdir())
        shutil.rmtree(CHECKOUT_DATA)  # the suite made it: remove it so the next test is checked
        pytest.fail(f"this test wrote {found} into the checkout's .data; use a tmp dir")


@pytest.fixture
def redis_url() -> str:
    return session_redis_url()


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
