from __future__ import annotations

import asyncio

import msgspec
import pytest
from redis.asyncio import Redis

from shop.registry.store import Instance, Registry
from shop.registry.view import RegistryView
from shop.runtime.metrics import Metrics
from shop.runtime.service import redis_client
from tests.support.polling import eventually_async
from tests.support.processes import PrivateRedis

pytestmark = pytest.mark.integration


def instance(n: int, ttl_ms: int = 10_000) -> Instance:
    return Instance(
        instance_id=f"orders-{n}",
        service="orders",
        address=f"http://127.0.0.1:{9100 + n}",
        ttl_ms=ttl_ms,
        registered_at=1.0,
    )


async def test_the_view_sees_a_new_instance_through_pubsub_before_the_poll(redis: Redis) -> None:
    registry = Registry(redis)
    view = RegistryView(registry, refresh=30.0)  # the poll alone would take 30 s
    await view.start()
    try:
        assert view.healthy("orders") == ()
        await asyncio.sleep(0.1)  # let the listener subscribe
        await registry.register(instance(1))
        await eventually_async(lambda: len(view.healthy("orders")) == 1)
        await registry.deregister("orders", "orders-1")
        await eventually_async(lambda: view.healthy("orders") == ())
    finally:
        await view.stop()


async def test_the_poll_drops_an_instance_that_expired_silently(redis: Redis) -> None:
    registry = Registry(redis)
    await registry.register(instance(1, ttl_ms=200))
    view = RegistryView(registry, refresh=0.05)
    await view.start()
    try:
        assert len(view.healthy("orders")) == 1
        await eventually_async(lambda: view.healthy("orders") == ())
    finally:
        await view.stop()


async def test_an_unhealthy_instance_is_listed_but_not_routable(redis: Redis) -> None:
    registry = Registry(redis)
    await registry.register(instance(1))
    await registry.register(instance(2))
    await registry.mark(msgspec.structs.replace(instance(2), healthy=False))
    view = RegistryView(registry)
    await view.refresh_now()
    assert [i.instance_id for i in view.healthy("orders")] == ["orders-1"]
    assert [i.instance_id for i in view.all()["orders"]] == ["orders-1", "orders-2"]


async def test_the_view_keeps_its_last_state_while_redis_is_down(
    private_redis: PrivateRedis,
) -> None:
    client = redis_client(private_redis.url)
    registry = Registry(client)
    changes: list[bool] = []
    metrics = Metrics("gateway")
    view = RegistryView(
        registry, refresh=0.05, on_change=lambda v: changes.append(v.stale), metrics=metrics
    )

    def stale_metric() -> float | None:
        return metrics.registry.get_sample_value("registry_view_stale", {"service": "gateway"})

    try:
        await registry.register(instance(1))
        await view.start()
        assert len(view.healthy("orders")) == 1
        private_redis.stop()
        await eventually_async(lambda: view.stale)
        assert [i.instance_id for i in view.healthy("orders")] == ["orders-1"]
        assert stale_metric() == 1
        private_redis.start()
        await eventually_async(lambda: not view.stale, within=5)
        assert stale_metric() == 0
        # Redis came back empty (it keeps nothing on disk): the view follows the truth again.
        assert view.healthy("orders") == ()
        assert True in changes
    finally:
        await view.stop()
        await client.aclose()


def test_a_cached_lookup_does_no_io() -> None:
    class Unreachable(Registry):
        def __init__(self) -> None:
            pass

        async def snapshot(self) -> dict[str, list[Instance]]:
            raise AssertionError("a lookup must not reach Redis")

    view = RegistryView(Unreachable())
    view._install({"orders": [instance(1)]})
    assert view.healthy("orders")[0].address == "http://127.0.0.1:9101"
    assert view.healthy("users") == ()
