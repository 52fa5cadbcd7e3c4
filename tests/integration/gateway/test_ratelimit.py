from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from gateway.gcra import Limit
from gateway.ratelimit import RateLimiter
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


SYNCED = Limit("default", per_second=20, burst=40)  # a quota of 10 at a share of 0.25


async def test_a_sync_pushes_local_admissions_and_every_replica_follows(redis: Redis) -> None:
    first = RateLimiter(redis, local_share=0.25)
    second = RateLimiter(redis, local_share=0.25)

    for _ in range(8):
        assert await first.check("ip:20", SYNCED, "GET") is not None
    pushed = await first.sync()
    await second.check("ip:20", SYNCED, "GET")
    await second.sync()
    seen = await second.check("ip:20", SYNCED, "GET")

    assert pushed == 1
    tat_ms = await redis.pttl("ratelimit:default:{ip:20}")
    assert 8 * 50 <= tat_ms <= 9 * 50 + 100  # first's eight and second's one, 50 ms each
    assert seen is not None
    assert seen.remaining <= 40 - 10  # second follows the global bucket, not its own


async def test_a_spent_quota_asks_redis_with_the_count_pushed_along(redis: Redis) -> None:
    limiter = RateLimiter(redis, local_share=0.25)
    decisions = [await limiter.check("ip:21", SYNCED, "POST") for _ in range(12)]

    assert all(d is not None and d.allowed for d in decisions)
    # The 11th asked Redis with the ten admitted before it; the 12th was local again.
    tat_ms = await redis.pttl("ratelimit:default:{ip:21}")
    assert 11 * 50 - 100 <= tat_ms <= 11 * 50 + 1


async def test_two_replicas_hammering_one_client_stay_within_the_bound(redis: Redis) -> None:
    limit = Limit("default", per_second=100, burst=20)  # quota 5
    replicas = [RateLimiter(redis, local_share=0.25, sync_seconds=0.05) for _ in range(2)]
    syncs = [asyncio.create_task(r.run()) for r in replicas]
    loop = asyncio.get_running_loop()
    started = loop.time()
    admitted = 0
    try:
        while loop.time() - started < 1.0:
            for limiter in replicas:
                decision = await limiter.check("ip:22", limit, "GET")
                admitted += bool(decision and decision.allowed)
            await asyncio.sleep(0)
        elapsed = loop.time() - started
    finally:
        for task in syncs:
            task.cancel()
        await asyncio.gather(*syncs, return_exceptions=True)

    allowance = limit.per_second * elapsed + limit.burst
    quota = replicas[0].shared.quota(limit)
    assert admitted >= 0.9 * limit.per_second * elapsed  # the limit is not starved either
    assert admitted <= allowance + (len(replicas) - 1) * quota + 2  # + the rounding of two TATs


async def test_with_redis_down_a_synced_limit_goes_on_in_memory(
    private_redis: PrivateRedis,
) -> None:
    client = redis_client(private_redis.url)
    errors: list[int] = []
    limiter = RateLimiter(client, local_share=0.25, on_redis_error=lambda: errors.append(1))
    limit = Limit("default", per_second=1, burst=8)  # quota 2
    await limiter.check("ip:23", limit, "GET")
    private_redis.stop()
    try:
        reads = [await limiter.check("ip:23", limit, "GET") for _ in range(9)]
        await limiter.sync()
    finally:
        await client.aclose()

    assert [d.allowed for d in reads if d] == [True] * 7 + [False] * 2  # no read fails open
    assert len(errors) == 1
    assert limiter.shared.buckets["ratelimit:default:{ip:23}"].pending == 8  # pushed later
