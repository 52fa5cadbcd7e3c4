"""Issue 10, item 5: a client cannot choose its own address, in either deployment's shape."""

from __future__ import annotations

import json

import pytest

from tests.support.gateway_stack import gateway_stack, raw_request
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.e2e
STRICT = {"RATE_LIMIT_PER_SECOND": "0.01", "RATE_LIMIT_BURST": "3"}


def test_locally_a_new_x_forwarded_for_per_request_does_not_reset_the_limit(
    redis_url: str,
) -> None:
    with gateway_stack(redis_url, TokenFactory()) as stack:
        products = stack.upstream("products", "p0")
        gateway = stack.gateway(**STRICT)  # local: nothing trusted, the peer is the client
        stack.ready(products, gateway)
        answers = [
            raw_request(gateway.port, "GET", "/products/x", {"X-Forwarded-For": f"198.51.100.{i}"})
            for i in range(6)
        ]

    assert [status for status, _, _ in answers] == [200, 200, 200, 429, 429, 429]
    seen = dict(json.loads(answers[0][2])["headers"])
    assert seen["x-forwarded-for"] == "127.0.0.1"  # the claim is never passed on


def test_behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client(
    redis_url: str,
) -> None:
    with gateway_stack(redis_url, TokenFactory()) as stack:
        products = stack.upstream("products", "p0")
        # The cluster's shape: the peer is the queue-proxy on loopback, the ingress and the
        # activator (10.0.0.0/8 here) appended the hops before it.
        gateway = stack.gateway(TRUSTED_PROXIES="127.0.0.1,10.0.0.0/8", **STRICT)
        stack.ready(products, gateway)

        def get(client: str, claim: str) -> tuple[int, dict[str, str], bytes]:
            chain = f"{claim}, {client}, 10.1.2.3, 10.4.5.6"
            return raw_request(gateway.port, "GET", "/products/x", {"X-Forwarded-For": chain})

        flood = [get("203.0.113.5", f"198.51.100.{i}")[0] for i in range(5)]
        other = get("203.0.113.6", "198.51.100.1")

    assert flood == [200, 200, 200, 429, 429]  # spoofed claims do not help the flooder
    assert other[0] == 200  # and another client behind the same proxies is not held with it
    seen = dict(json.loads(other[2])["headers"])
    assert seen["x-forwarded-for"] == "203.0.113.6"
