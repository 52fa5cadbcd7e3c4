"""`shop serve` as a real process: registration, SIGKILL, SIGTERM, draining, Redis restarts."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis

from devtools.served import Served
from tests.support.polling import eventually
from tests.support.processes import PrivateRedis

pytestmark = pytest.mark.e2e


@pytest.fixture
def sync_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def registered(client: redis.Redis, service: str) -> list[str]:
    members = client.zrange(f"{{shop}}:registry:{service}:alive", 0, -1)
    return [m.decode() for m in members]  # type: ignore[union-attr]


def serve(name: str, redis_url: str, **env: str) -> Served:
    served = Served(name, {"REDIS_URL": redis_url, **env})
    served.wait_ready()
    return served


def log_lines(served: Served) -> list[dict[str, object]]:
    lines = []
    for raw in served.output().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def test_a_served_instance_registers_itself(redis_url: str, sync_redis: redis.Redis) -> None:
    served = serve("notifications", redis_url)
    try:
        eventually(lambda: len(registered(sync_redis, "notifications")) == 1)
        health = httpx.get(f"{served.url}/health").json()
        assert registered(sync_redis, "notifications") == [health["instance_id"]]
    finally:
        served.stop()


def test_a_sigkilled_instance_leaves_the_registry_by_ttl(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    served = serve("notifications", redis_url, REGISTRY_TTL_SECONDS="1")
    try:
        eventually(lambda: len(registered(sync_redis, "notifications")) == 1)
        (registered_id,) = registered(sync_redis, "notifications")
        served.signal(signal.SIGKILL)
        served.wait()
        # Nobody deregistered it, nobody renews it: its expiry (Redis's clock) is at most one
        # TTL from now, and discovery drops it once that passes.
        seconds, micros = sync_redis.time()
        expiry = sync_redis.zscore("{shop}:registry:notifications:alive", registered_id)
        assert expiry is not None
        assert expiry <= seconds * 1000 + micros // 1000 + 1000
        probe = _discover_count(redis_url, "notifications")
        eventually(lambda: probe() == 0)
    finally:
        served.stop()


def test_sigterm_deregisters_before_exiting_with_status_zero(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    served = serve("notifications", redis_url)
    try:
        eventually(lambda: len(registered(sync_redis, "notifications")) == 1)
        served.signal(signal.SIGTERM)
        assert served.wait() == 0
        assert registered(sync_redis, "notifications") == []
        messages = [line["message"] for line in log_lines(served)]
        order = ["shutdown: not ready", "deregistered", "Shutting down", "shutdown: complete"]
        positions = [messages.index(m) for m in order]
        assert positions == sorted(positions), messages
    finally:
        served.stop()


def test_in_flight_requests_finish_after_sigterm_while_ready_says_no(
    redis_url: str, sync_redis: redis.Redis
) -> None:
    served = Served(
        "slow",
        {"REDIS_URL": redis_url, "SHUTDOWN_DRAIN_DELAY_SECONDS": "3"},
        module="tests.support.slow_service",
    )
    try:
        served.wait_ready()
        eventually(lambda: len(registered(sync_redis, "slow")) == 1)
        result: dict[str, object] = {}

        def slow_call() -> None:
            response = httpx.get(f"{served.url}/slow", params={"seconds": 4}, timeout=30)
            result["status"], result["body"] = response.status_code, response.json()

        caller = threading.Thread(target=slow_call)
        caller.start()
        time.sleep(0.5)
        served.signal(signal.SIGTERM)
        # During the drain delay the listener is still open: /ready answers, and says no.
        eventually(lambda: httpx.get(f"{served.url}/ready", timeout=5).status_code == 503)
        eventually(lambda: registered(sync_redis, "slow") == [])
        caller.join(30)
        assert result == {"status": 200, "body": {"slept": 4.0}}
        assert served.wait() == 0
    finally:
        served.stop()


def test_the_service_keeps_serving_while_redis_restarts(private_redis: PrivateRedis) -> None:
    served = serve("notifications", private_redis.url, REGISTRY_TTL_SECONDS="1.5")
    try:
        count = _discover_count(private_redis.url, "notifications")
        eventually(lambda: count() == 1)
        private_redis.stop()
        for _ in range(5):
            assert httpx.get(f"{served.url}/health").status_code == 200
            assert httpx.get(f"{served.url}/ready").status_code == 200
            time.sleep(0.2)
        private_redis.start()  # empty: it keeps nothing on disk
        eventually(lambda: count() == 1, within=5.0)  # the next heartbeat registers again
        metrics = httpx.get(f"{served.url}/metrics").text
        assert 'registry_errors_total{operation="heartbeat",service="notifications"}' in metrics
    finally:
        served.stop()


def _discover_count(url: str, service: str) -> Callable[[], int]:
    """Counts through the registry's own discover (expired entries excluded)."""
    import asyncio

    from shop.registry.store import Registry
    from shop.runtime.service import redis_client

    def count() -> int:
        async def run() -> int:
            client = redis_client(url)
            try:
                return len(await Registry(client).discover(service))
            except Exception:  # noqa: BLE001 - Redis down counts as "none seen"
                return -1
            finally:
                await client.aclose()

        return asyncio.run(run())

    return count
