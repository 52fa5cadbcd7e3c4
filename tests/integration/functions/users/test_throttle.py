"""The failed-login throttle on a real Redis: shared by every replica, memory when Redis fails."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from functions.users.throttle import PREFIX, LoginThrottle
from shop.runtime.errors import TooManyRequests

pytestmark = pytest.mark.integration


async def test_replicas_share_the_count_and_it_expires_with_the_window(redis: Redis) -> None:
    first, second = (LoginThrottle(redis, per_user=2, per_client=100, window=60) for _ in range(2))
    await first.failed("ann", "10.0.0.1")
    await second.check("ann", "10.0.0.1")
    await second.failed("ann", "10.0.0.2")

    with pytest.raises(TooManyRequests) as refused:
        await first.check("ann", "10.0.0.3")
    assert 1 <= refused.value.retry_after <= 60
    assert 0 < await redis.ttl(f"{PREFIX}:user:ann") <= 60
    await redis.expire(f"{PREFIX}:user:ann", 30)  # as if 30 s of the window had passed
    await first.failed("ann", "10.0.0.1")
    assert await redis.ttl(f"{PREFIX}:user:ann") <= 30  # a later failure does not extend it

    await second.succeeded("ann")
    await first.check("ann", "10.0.0.3")


async def test_with_redis_down_the_instance_counts_in_memory() -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        guard = LoginThrottle(down, per_user=2, per_client=100, window=60)
        await guard.failed("ann", "10.0.0.1")
        await guard.check("ann", "10.0.0.1")
        await guard.failed("ann", "10.0.0.1")

        with pytest.raises(TooManyRequests):
            await guard.check("ann", "10.0.0.1")
    finally:
        await down.aclose()


async def test_a_count_without_an_expiry_refuses_for_a_whole_window(redis: Redis) -> None:
    await redis.set(f"{PREFIX}:user:ann", 5)  # as if the EXPIRE had been lost
    guard = LoginThrottle(redis, per_user=2, per_client=100, window=60)

    with pytest.raises(TooManyRequests) as refused:
        await guard.check("ann", "10.0.0.1")

    assert refused.value.retry_after == 60
