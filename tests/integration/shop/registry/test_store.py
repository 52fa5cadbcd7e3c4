from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
from redis.asyncio import BlockingConnectionPool, Redis

from shop.registry.store import Instance, Registry
from tests.support.processes import PrivateRedis

pytestmark = pytest.mark.integration


def instance(n: int, *, service: str = "products", ttl_ms: int = 10_000) -> Instance:
    return Instance(
        instance_id=f"{service}-{n}",
        service=service,
        address=f"http://127.0.0.1:{9000 + n}",
        ttl_ms=ttl_ms,
        registered_at=time.time(),
        metadata={"version": "v1"},
    )


async def test_a_registered_instance_is_discovered_with_its_record(redis: Redis) -> None:
    registry = Registry(redis)
    assert await registry.register(instance(1)) is True
    found = await registry.discover("products")
    assert [i.instance_id for i in found] == ["products-1"]
    only = found[0]
    assert only.address == "http://127.0.0.1:9001"
    assert only.healthy is True
    assert only.metadata == {"version": "v1"}
    assert abs(only.last_seen - time.time()) < 2
    assert only.expires_at == pytest.approx(only.last_seen + 10, abs=0.01)


async def test_a_heartbeat_renews_without_duplicating(redis: Redis) -> None:
    registry = Registry(redis)
    first = instance(1, ttl_ms=1000)
    await registry.register(first)
    before = (await registry.discover("products"))[0].expires_at
    await asyncio.sleep(0.05)
    assert await registry.heartbeat(first) is False
    found = await registry.discover("products")
    assert len(found) == 1
    assert found[0].expires_at > before


async def test_an_instance_that_stops_renewing_leaves_within_one_ttl(redis: Redis) -> None:
    registry = Registry(redis)
    await registry.register(instance(1, ttl_ms=300))
    await registry.register(instance(2, ttl_ms=10_000))
    await asyncio.sleep(0.4)
    assert [i.instance_id for i in await registry.discover("products")] == ["products-2"]
    # the expired entry is pruned, not just hidden
    assert await redis.zcard("{shop}:registry:products:alive") == 1
    assert await redis.hlen("{shop}:registry:products:record") == 1


async def test_an_unhealthy_instance_leaves_discover_but_stays_listed(redis: Redis) -> None:
    registry = Registry(redis)
    await registry.register(instance(1))
    sick = msgspec.structs.replace(instance(1), healthy=False)
    assert await registry.mark(sick) is True
    assert await registry.discover("products") == []
    listed = await registry.instances("products")
    assert [(i.instance_id, i.healthy) for i in listed] == [("products-1", False)]


async def test_marking_an_unknown_instance_does_not_register_it(redis: Redis) -> None:
    registry = Registry(redis)
    assert await registry.mark(instance(7)) is False
    assert await registry.instances("products") == []


async def test_deregister_removes_at_once(redis: Redis) -> None:
    registry = Registry(redis)
    await registry.register(instance(1))
    assert await registry.deregister("products", "products-1") is True
    assert await registry.discover("products") == []
    assert await registry.deregister("products", "products-1") is False


async def test_changes_are_published_but_plain_heartbeats_are_not(
    private_redis: PrivateRedis,
) -> None:
    # Pub/sub channels are server-wide, not per database: a private server hears only us.
    redis = Redis.from_url(private_redis.url)
    registry = Registry(redis)
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe("{shop}:registry:changes")
        await pubsub.get_message(timeout=1)  # the subscribe confirmation
        one = instance(1)
        await registry.register(one)
        await registry.heartbeat(one)
        await registry.deregister("products", "products-1")
        messages = []
        while (message := await pubsub.get_message(timeout=0.3)) is not None:
            messages.append(message["data"])
    await redis.aclose()
    assert messages == [b"products", b"products"]


async def test_snapshot_covers_every_service(redis: Redis) -> None:
    registry = Registry(redis)
    await registry.register(instance(1, service="users"))
    await registry.register(instance(1, service="orders"))
    await registry.register(instance(2, service="orders"))
    snapshot = await registry.snapshot()
    assert sorted(snapshot) == ["orders", "users"]
    assert [i.instance_id for i in snapshot["orders"]] == ["orders-1", "orders-2"]
    assert await registry.services() == ["orders", "users"]


async def test_many_tasks_register_and_discover_concurrently(redis_url: str) -> None:
    # The registry is under test, not the pool: generous limits for a busy CI machine.
    pool = BlockingConnectionPool.from_url(
        redis_url, max_connections=50, timeout=30, socket_connect_timeout=10
    )
    client = Redis.from_pool(pool)
    await client.flushdb()
    registry = Registry(client)

    async def life(n: int) -> int:
        await registry.register(instance(n))
        seen = len(await registry.discover("products"))
        await registry.heartbeat(instance(n))
        if n % 2:
            await registry.deregister("products", f"products-{n}")
        return seen

    try:
        seen = await asyncio.gather(*(life(n) for n in range(200)))
        remaining = await registry.discover("products")
    finally:
        await client.flushdb()
        await client.aclose()
    assert all(1 <= count <= 200 for count in seen)
    assert sorted(i.instance_id for i in remaining) == sorted(
        f"products-{n}" for n in range(0, 200, 2)
    )


async def test_no_operation_scans_the_keyspace(private_redis: PrivateRedis) -> None:
    client = Redis.from_url(private_redis.url)
    try:
        await client.config_resetstat()
        registry = Registry(client)
        for n in range(20):
            await registry.register(instance(n))
        await registry.discover("products")
        await registry.snapshot()
        await registry.deregister("products", "products-3")
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    used = {name.removeprefix("cmdstat_") for name in stats}
    assert not used & {"keys", "scan", "hscan", "zscan", "sscan"}
    assert "evalsha" in used or "eval" in used
