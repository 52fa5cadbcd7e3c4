"""The security suite: attacks on real processes, the way a hostile client makes them (issue 10).

Every test here is marked `security` (and `e2e`: it starts real processes); those that need
Redis run once per Redis the project supports (tests.support.redis_versions).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.served import Served
from tests.support import redis_versions

private_redis = redis_versions.private_redis
redis_url = redis_versions.redis_url
redis_version = redis_versions.redis_version
versioned_redis_url = redis_versions.versioned_redis_url

HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "security: attacks a real service (issue 10's suite)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.security)
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def serve_users(versioned_redis_url: str) -> Iterator[Served]:
    """`shop serve users` on SQLite with a real Redis (flushed first), stopped at the end."""
    import redis

    with redis.Redis.from_url(versioned_redis_url) as client:
        client.flushdb()
    served = Served(
        "users",
        {"REDIS_URL": versioned_redis_url, "LOG_LEVEL": "WARNING", "SHUTDOWN_GRACE_SECONDS": "1"},
    )
    try:
        served.wait_ready(60)
        yield served
    finally:
        served.stop()
