from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from functions.users.controls import ControlHealth, errors_counter
from functions.users.counters import FallbackCounters
from functions.users.throttle import Limits, LoginThrottle
from shop.runtime.errors import TooManyRequests
from shop.runtime.service import redis_client
from tests.support.processes import PrivateRedis

pytestmark = pytest.mark.integration
LIMITS = Limits(per_pair=3, per_client=30, per_account=5, window=300)
LABELS = {"service": "users", "control": "login_throttle"}


def replica(redis: Redis | None, registry: CollectorRegistry | None = None) -> LoginThrottle:
    health = ControlHealth(
        "users", "login_throttle", errors_counter(registry or CollectorRegistry()), degraded="-"
    )
    return LoginThrottle(FallbackCounters(redis, health), LIMITS)


async def test_replicas_share_the_failure_count_through_redis(redis: Redis) -> None:
    first, second = replica(redis), replica(redis)
    for t in (first, second, first):
        await t.check("owner", "10.0.0.1")
        await t.failed("owner", "10.0.0.1")
    with pytest.raises(TooManyRequests) as refused:
        await second.check("owner", "10.0.0.1")
    assert 1 <= refused.value.retry_after <= 300
    ttls = [await redis.pttl(k) async for k in redis.scan_iter("{shop}:login:*")]
    assert len(ttls) == 3
    assert all(0 < ttl <= 300_000 for ttl in ttls)  # every counter expires


async def test_the_account_backoff_restarts_with_each_failure_but_pairs_keep_their_window(
    redis: Redis,
) -> None:
    t = replica(redis)
    await t.failed("owner", "10.0.0.1")
    keys = [k async for k in redis.scan_iter("{shop}:login:*")]
    for k in keys:
        await redis.pexpire(k, 50_000)
    await t.failed("owner", "10.0.0.1")
    ttls = {k.decode().split(":")[2]: await redis.pttl(k) for k in keys}
    assert ttls["account"] > 250_000  # restarted
    assert ttls["pair"] <= 50_000
    assert ttls["client"] <= 50_000


async def test_with_redis_down_the_throttle_holds_in_memory_and_reports_it(
    private_redis: PrivateRedis,
) -> None:
    client = redis_client(private_redis.url)
    registry = CollectorRegistry()
    t = replica(client, registry)
    try:
        await t.failed("owner", "10.0.0.1")
        private_redis.stop()
        for _ in range(3):
            await t.check("owner", "10.0.0.2")
            await t.failed("owner", "10.0.0.2")
        with pytest.raises(TooManyRequests):
            await t.check("owner", "10.0.0.2")
        errors = registry.get_sample_value("security_control_errors_total", LABELS)
        assert errors is not None
        assert errors >= 1
    finally:
        await client.aclose()
