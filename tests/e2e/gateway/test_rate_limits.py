from __future__ import annotations

import httpx
import pytest

from tests.e2e.gateway.harness import Stack, instances_seen
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


def test_two_gateway_replicas_share_one_limit_per_client(stack: Stack) -> None:
    upstreams = [stack.upstream("products", "p0"), stack.upstream("users", "u0")]
    limits = {
        "RATE_LIMIT_PER_SECOND": "0.5",
        "RATE_LIMIT_BURST": "6",
        "RATE_LIMIT_AUTH_PER_MINUTE": "1",
        "RATE_LIMIT_AUTH_BURST": "2",
    }
    first, second = stack.gateway(**limits), stack.gateway(**limits)
    stack.ready(*upstreams, first, second)
    eventually(lambda: instances_seen(first, "/users/health", 1) == {"u0"})
    eventually(lambda: instances_seen(second, "/users/health", 1) == {"u0"})
    # The health checks above spent part of the shared budget: start from a clean slate.
    import redis

    client = redis.Redis.from_url(stack.redis_url)
    for key in client.scan_iter("ratelimit:*"):
        client.delete(key)
    client.close()

    answers = []
    for index in range(10):
        gateway = (first, second)[index % 2]
        answers.append(httpx.get(f"{gateway.url}/products", timeout=5))

    allowed = [r for r in answers if r.status_code == 200]
    limited = [r for r in answers if r.status_code == 429]
    assert len(allowed) in {6, 7}  # the burst, plus at most one refill: not 2 x burst
    assert len(limited) == 10 - len(allowed)
    refused = limited[0]
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-limit"] == "6"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert int(allowed[0].headers["ratelimit-remaining"]) == 5

    logins = [
        httpx.post(f"{(first, second)[i % 2].url}/auth/token", json={}, timeout=5) for i in range(3)
    ]
    assert [r.status_code for r in logins] == [200, 200, 429]
