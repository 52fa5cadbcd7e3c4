"""Reaching the real Redis and PostgreSQL the tests use: skip outside CI, fail inside it."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

from devtools.embedded_redis import free_port

REDIS_URL = os.environ.get("SHOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get(
    "SHOP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 0), 1.0):
            return True
    except OSError:
        return False


def require(url: str, what: str) -> None:
    if reachable(url):
        return
    message = f"{what} is unreachable at {urlparse(url).netloc}; start it to run this test"
    if os.environ.get("SHOP_REQUIRE_SERVICES") == "1" or os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


__all__ = ["POSTGRES_URL", "REDIS_URL", "free_port", "reachable", "require"]
