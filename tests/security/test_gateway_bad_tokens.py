"""Issue 10, "also": requests with invalid tokens count against the client's rate limit."""

from __future__ import annotations

import pytest

from tests.support.gateway_stack import gateway_stack, raw_request
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.e2e


def test_a_flood_of_bad_signatures_is_rate_limited_by_the_clients_address(
    redis_url: str,
) -> None:
    tokens = TokenFactory()
    with gateway_stack(redis_url, tokens) as stack:
        users = stack.upstream("users", "u0")  # serves the key set
        orders = stack.upstream("orders", "o0")
        gateway = stack.gateway(RATE_LIMIT_PER_SECOND="0.5", RATE_LIMIT_BURST="20")
        stack.ready(users, orders, gateway)
        forged = {"Authorization": f"Bearer {tokens.forged('mallory')}"}
        answers = [raw_request(gateway.port, "GET", "/orders", forged) for _ in range(30)]
        good = {"Authorization": f"Bearer {tokens.token('alice')}"}
        valid = raw_request(gateway.port, "GET", "/orders", good)

    statuses = [status for status, _, _ in answers]
    assert set(statuses[:20]) == {401}
    assert set(statuses[20:]) == {429}
    assert "retry-after" in answers[-1][1]
    assert valid[0] == 200  # a signed-in user is limited per account, not by the flood
