"""Issue 10, "also": the gateway's /metrics is for in-cluster scrapes, not the public route."""

from __future__ import annotations

import pytest

from tests.support.gateway_stack import gateway_stack, raw_request
from tests.support.prometheus import Prometheus
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.e2e

# What every request through Knative's ingress carries (the ingress and queue-proxy add them).
THROUGH_THE_INGRESS = [
    {"X-Forwarded-For": "203.0.113.5"},
    {"X-Forwarded-Proto": "https"},
    {"Forwarded": "for=203.0.113.5;proto=https"},
    {"X-Forwarded-For": "203.0.113.5, 10.1.2.3", "X-Forwarded-Host": "shop.example"},
]


def test_metrics_are_refused_through_the_ingress_and_scraped_directly(redis_url: str) -> None:
    with gateway_stack(redis_url, TokenFactory()) as stack:
        gateway = stack.gateway()
        stack.ready(gateway)
        refused = [raw_request(gateway.port, "GET", "/metrics", h) for h in THROUGH_THE_INGRESS]
        prometheus = Prometheus({"gateway": [f"127.0.0.1:{gateway.port}"]})
        try:
            prometheus.wait_ready()
            prometheus.wait_scraped(targets=1)
            up = prometheus.query('up{job="gateway"}')
        finally:
            prometheus.stop()

    for status, headers, body in refused:
        assert status == 404
        assert headers["content-type"].startswith("application/problem+json")
        assert b"gateway_" not in body
    assert [sample["value"][1] for sample in up] == ["1"]  # the direct scrape, as in-cluster
