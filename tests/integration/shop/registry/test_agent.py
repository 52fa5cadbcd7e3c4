from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shop.registry.agent import RegistryAgent
from shop.registry.store import Instance, Registry
from shop.runtime.health import Health
from shop.runtime.metrics import Metrics
from shop.runtime.service import redis_client
from tests.support.polling import eventually_async
from tests.support.processes import PrivateRedis

pytestmark = pytest.mark.integration


def agent_for(
    registry: Registry, health: Health, metrics: Metrics, ttl_ms: int = 600
) -> RegistryAgent:
    instance = Instance(
        instance_id="users-a",
        service="users",
        address="http://127.0.0.1:9200",
        ttl_ms=ttl_ms,
        registered_at=time.time(),
    )
    return RegistryAgent(registry, instance, health, metrics)


async def test_the_agent_registers_renews_and_deregisters(redis: Redis) -> None:
    registry = Registry(redis)
    agent = agent_for(registry, Health(), Metrics("users"))
    agent.start()
    try:
        await eventually_async(lambda: _count(registry, 1))
        await asyncio.sleep(1.0)  # longer than the TTL: only renewals keep it there
        assert await _count(registry, 1)
    finally:
        await agent.stop()
    assert await registry.instances("users") == []


async def test_a_failing_health_check_takes_the_instance_out_of_discover(redis: Redis) -> None:
    registry = Registry(redis)
    health = Health()
    broken = False

    async def database() -> None:
        if broken:
            raise ConnectionError("database down")

    health.add_check("database", database)
    agent = agent_for(registry, health, Metrics("users"))
    agent.start()
    try:
        await eventually_async(lambda: _count(registry, 1))
        broken = True
        await eventually_async(lambda: _count(registry, 0), within=1.0)  # within one TTL
        broken = False
        await eventually_async(lambda: _count(registry, 1), within=1.0)
    finally:
        await agent.stop()


async def test_heartbeats_resume_after_redis_restarts(private_redis: PrivateRedis) -> None:
    client = redis_client(private_redis.url)
    registry = Registry(client)
    metrics = Metrics("users")
    agent = agent_for(registry, Health(), metrics)
    agent.start()
    try:
        await eventually_async(lambda: _count(registry, 1))
        private_redis.stop()
        await asyncio.sleep(0.6)  # at least two failed beats
        failures = metrics.registry.get_sample_value(
            "registry_errors_total", {"service": "users", "operation": "heartbeat"}
        )
        assert failures is not None
        assert failures >= 1
        private_redis.start()  # empty again: it keeps nothing on disk
        await eventually_async(lambda: _count(registry, 1))
    finally:
        await agent.stop()
        await client.aclose()


async def _count(registry: Registry, expected: int) -> bool:
    try:
        return len(await registry.discover("users")) == expected
    except RedisError:  # a pooled connection from before a restart fails once
        return False
