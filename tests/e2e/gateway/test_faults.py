"""Killed and hung instances, with real processes (issue 12, items 5 and 7).

Loopback only, bounded in count; stopped processes are continued or killed at the end.
"""

from __future__ import annotations

import signal

import httpx
import pytest

from tests.e2e.gateway.harness import Stack, instances_seen, metric
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e
STAYS_REGISTERED = "60"  # REGISTRY_TTL_SECONDS: only the gateway can take it out


def test_a_hung_instance_is_ejected_and_its_requests_fail_over(stack: Stack) -> None:
    upstreams = [
        stack.upstream("products", f"p{i}", REGISTRY_TTL_SECONDS=STAYS_REGISTERED) for i in range(2)
    ]
    # A long route timeout: waiting it out would exceed the client's own timeout below.
    gateway = stack.gateway(PRODUCTS_TIMEOUT_SECONDS="60")
    stack.ready(*upstreams, gateway)
    eventually(lambda: instances_seen(gateway, "/products/health", 6) == {"p0", "p1"})
    victim = upstreams[1]
    victim.signal(signal.SIGSTOP)
    try:
        with httpx.Client(base_url=gateway.url, timeout=20) as client:
            answers = [client.get("/products/items") for _ in range(12)]
        ejected = metric(gateway, "gateway_ejections_total", upstream="products")
        opened = metric(
            gateway, "gateway_breaker_transitions_total", upstream_instance="p1", state="open"
        )
    finally:
        victim.signal(signal.SIGCONT)

    assert [a.status_code for a in answers] == [200] * 12
    assert {a.json()["instance_id"] for a in answers} == {"p0"}
    assert ejected >= 1
    assert opened >= 1


def test_a_killed_single_instance_gives_503_with_retry_after_and_few_log_lines(
    stack: Stack,
) -> None:
    products = stack.upstream("products", "p0", REGISTRY_TTL_SECONDS=STAYS_REGISTERED)
    gateway = stack.gateway(LOG_LEVEL="INFO")
    stack.ready(products, gateway)
    eventually(lambda: instances_seen(gateway, "/products/health", 2) == {"p0"})
    before = len(gateway.output().splitlines())
    products.signal(signal.SIGKILL)
    products.wait(10)
    with httpx.Client(base_url=gateway.url, timeout=20) as client:
        answers = [client.get("/products/items") for _ in range(40)]
        written = gateway.output().splitlines()[before:]

    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert int(answer.headers["retry-after"]) >= 1
    # One line per state change (breaker opened, no instance left), not one per answer.
    assert len(written) <= 6, "\n".join(written)
