from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from gateway.ratelimit import Limit, RateLimiter
from shop.runtime.service import redis_client
from tests.support.processes import PrivateRedis

pytestmark = pytest.mark.integration
LIMIT = Limit("default", per_second=1, burst=3)


async def test_the_lua_gcra_allows_the_burst_then_refuses_with_a_wait(redis: Redis) -> None:
    limiter = RateLimiter(redis)

    decisions = [await limiter.check("ip:1", LIMIT, "GET") for _ in range(4)]

    assert [d.allowed for d in decisions if d] == [True, True, True, False]
    assert [d.remaining for d in decisions if d] == [2, 1, 0, 0]
    refused = decisions[3]
    assert refused is not None
    assert 0 < refused.retry_after <= 1.0
    assert await redis.pttl("ratelimit:default:{ip:1}") > 0  # idle keys expire


async def test_two_limiters_on_one_redis_share_the_budget(redis: Redis) -> None:
    first, second = RateLimiter(redis), RateLimiter(redis)

    allowed = 0
    for index in range(6):
        limiter = (first, second)[index % 2]
        decision = await limiter.check("user:alice", LIMIT, "POST")
        allowed += bool(decision and decision.allowed)

    assert allowed == 3


async def test_with_redis_down_reads_pass_and_writes_are_limited_in_memory(
    private_redis: PrivateRedis,
) -> None:
    client = redis_client(private_redis.url)
    errors: list[int] = []
    opened: list[int] = []
    limiter = RateLimiter(
        client, on_redis_error=lambda: errors.append(1), on_fail_open=lambda: opened.append(1)
    )
    assert await limiter.check("ip:9", LIMIT, "GET") is not None
    private_redis.stop()
    try:
        reads = [await limiter.check("ip:9", LIMIT, "GET") for _ in range(10)]
        writes = [await limiter.check("ip:9", LIMIT, "POST") for _ in range(5)]
        logins = [await limiter.check("ip:9", Limit("auth", 1, 1), "GET") for _ in range(2)]
    finally:
        await client.aclose()

    assert reads == [None] * 10
    assert len(opened) == 10
    assert [d.allowed for d in writes if d] == [True, True, True, False, False]
    assert [d.allowed for d in logins if d] == [True, False]  # the login limit never opens
    assert len(errors) == 1  # Redis is left alone for a while after a failure


async def test_checks_of_one_loop_turn_share_a_round_trip_and_stay_exact(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    limit = Limit("default", per_second=1, burst=20)

    decisions = await asyncio.gather(*(limiter.check("ip:5", limit, "GET") for _ in range(30)))
    other = await asyncio.gather(*(limiter.check(f"ip:{i}", limit, "GET") for i in range(10, 15)))

    assert sum(1 for d in decisions if d and d.allowed) == 20
    assert sorted(d.remaining for d in decisions if d and d.allowed) == list(range(20))
    assert all(d and d.allowed and d.remaining == 19 for d in other)


async def test_a_flushed_script_cache_is_reloaded(redis: Redis) -> None:
    limiter = RateLimiter(redis)
    assert await limiter.check("ip:7", LIMIT, "GET") is not None

    await redis.script_flush()
    alone = await limiter.check("ip:7", LIMIT, "GET")
    await redis.script_flush()
    together = await asyncio.gather(*(limiter.check("ip:8", LIMIT, "GET") for _ in range(2)))

    assert alone is not None
    assert alone.allowed
    assert alone.remaining == 1
    assert all(d is not None and d.allowed for d in together)


async def test_a_check_cancelled_in_flight_leaves_the_rest_of_its_batch_answered(
    redis: Redis,
) -> None:
    limiter = RateLimiter(redis)
    gone = asyncio.create_task(limiter.check("ip:10", LIMIT, "POST"))
    kept = asyncio.create_task(limiter.check("ip:11", LIMIT, "POST"))
    await asyncio.sleep(0)  # both wait in one batch
    gone.cancel()

    decision = await asyncio.wait_for(kept, 5)

    assert decision is not None
    assert decision.allowed
    assert gone.cancelled()
