"""Breakers open only on what shows an instance broken (issue 10 item 1, issue 12 item 6)."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.gateway.harness import Stack, metric
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(("service", "failure"), [("orders", "dependency"), ("users", "shedding")])
def test_a_marked_503_passes_through_and_leaves_the_breaker_closed(
    stack: Stack, tokens: TokenFactory, service: str, failure: str
) -> None:
    upstreams = [stack.upstream(service, "i0")]
    if service != "users":
        upstreams.append(stack.upstream("users", "keys"))  # serves the key set
    gateway = stack.gateway()
    stack.ready(*upstreams, gateway)
    signed_in = {"Authorization": f"Bearer {tokens.token('alice')}"}
    with httpx.Client(base_url=gateway.url, timeout=10, headers=signed_in) as client:
        answers = [
            client.get(f"/{service}/unavailable", params={"failure": failure}) for _ in range(30)
        ]
        after = client.get(f"/{service}/items")

    assert {a.status_code for a in answers} == {503}
    assert all(a.headers["retry-after"] == "2" for a in answers)  # the function's own answer
    assert all(a.headers["x-shop-failure"] == failure for a in answers)
    assert after.status_code == 200  # routes that need no dependency keep working
    assert metric(gateway, "gateway_breaker_transitions_total", state="open") == 0
