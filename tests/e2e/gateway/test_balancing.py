from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.gateway.harness import Stack, instances_seen, metric
from tests.support.polling import eventually
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.e2e


def test_requests_spread_over_three_instances(stack: Stack) -> None:
    upstreams = [stack.upstream("products", f"p{i}") for i in range(3)]
    gateway = stack.gateway()
    stack.ready(*upstreams, gateway)

    eventually(lambda: instances_seen(gateway, "/products/health", 6) == {"p0", "p1", "p2"})
    seen = instances_seen(gateway, "/products/items", 30)

    assert seen == {"p0", "p1", "p2"}


def _steady_load(url: str, stop: threading.Event, statuses: list[int]) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.is_set():
            statuses.append(client.get("/products/items").status_code)
            time.sleep(0.005)


def test_a_killed_instance_costs_idempotent_requests_nothing_and_comes_back(
    stack: Stack, tokens: TokenFactory
) -> None:
    upstreams = [stack.upstream("products", f"p{i}", REGISTRY_TTL_SECONDS="30") for i in range(3)]
    users = stack.upstream("users", "u0")
    gateway = stack.gateway()
    stack.ready(*upstreams, users, gateway)
    eventually(lambda: instances_seen(gateway, "/products/health", 6) == {"p0", "p1", "p2"})
    victim = upstreams[2]
    stop = threading.Event()
    statuses: list[int] = []
    workers = [
        threading.Thread(target=_steady_load, args=(gateway.url, stop, statuses)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()

    eventually(lambda: len(statuses) >= 20, within=30)
    victim.signal(signal.SIGKILL)
    victim.wait(10)
    killed_at = len(statuses)
    # Steady load goes on until plenty of requests ran after the kill (counted, not timed).
    eventually(lambda: len(statuses) >= killed_at + 60, within=60)
    stop.set()
    for worker in workers:
        worker.join(15)

    assert set(statuses) == {200}, f"errors under load: {sorted(set(statuses))}"
    assert (
        metric(gateway, "gateway_breaker_transitions_total", upstream_instance="p2", state="open")
        >= 1
    )
    admin = {"Authorization": f"Bearer {tokens.token('root', 'admin')}"}
    page = httpx.get(f"{gateway.url}/registry", headers=admin, timeout=5).json()
    p2 = next(i for i in page["instances"] if i["instance_id"] == "p2")
    assert p2["breaker"]["state"] in {"open", "half_open"}
    assert "p2" not in instances_seen(gateway, "/products/items", 12)

    restarted = stack.upstream("products", "p2", port=victim.port)
    stack.ready(restarted)
    eventually(lambda: "p2" in instances_seen(gateway, "/products/items", 12), within=15)


def test_an_instance_answering_slow_503s_trips_its_breaker_then_recovers_half_open(
    stack: Stack,
) -> None:
    upstreams = [stack.upstream("products", f"p{i}") for i in range(2)]
    gateway = stack.gateway(GATEWAY_BREAKER_OPEN_SECONDS="1.5", GATEWAY_BREAKER_FAILURES="3")
    stack.ready(*upstreams, gateway)
    eventually(lambda: instances_seen(gateway, "/products/health", 6) == {"p0", "p1"})
    sick = upstreams[1]
    httpx.post(f"{sick.url}/control", json={"status": 503, "delay": 0.3}, timeout=5)

    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        answers = [client.get("/products/flaky") for _ in range(12)]
    assert {r.status_code for r in answers} == {200}  # retried on the healthy instance
    assert (
        metric(gateway, "gateway_breaker_transitions_total", upstream_instance="p1", state="open")
        >= 1
    )
    reached = metric(sick, "http_requests_total", route="/{svc}/flaky")
    assert reached >= 3  # the failures that tripped the breaker
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        quick = [client.get("/products/flaky") for _ in range(10)]
    assert all(r.json()["instance_id"] == "p0" for r in quick)
    # The open breaker keeps the slow instance out: it saw none of those requests.
    assert metric(sick, "http_requests_total", route="/{svc}/flaky") == reached

    httpx.post(f"{sick.url}/control", json={"status": 200, "delay": 0}, timeout=5)
    time.sleep(1.6)
    eventually(lambda: "p1" in instances_seen(gateway, "/products/flaky", 6), within=10)
    assert metric(
        gateway, "gateway_breaker_transitions_total", upstream_instance="p1", state="half_open"
    )
    assert metric(
        gateway, "gateway_breaker_transitions_total", upstream_instance="p1", state="closed"
    )
    assert metric(gateway, "gateway_breaker_state", upstream_instance="p1") == 0


def test_with_no_instance_and_no_fallback_the_answer_is_a_fast_503(stack: Stack) -> None:
    gateway = stack.gateway()
    stack.ready(gateway)

    response = httpx.get(f"{gateway.url}/products/items", timeout=5)

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1


def test_with_no_registered_instance_the_fallback_url_gets_the_cold_start_timeout(
    stack: Stack,
) -> None:
    cold = stack.upstream("products", "knative", UPSTREAM_REGISTER="0")
    stack.ready(cold)
    gateway = stack.gateway(
        PRODUCTS_URL=cold.url,
        PRODUCTS_TIMEOUT_SECONDS="0.3",
        PRODUCTS_COLD_START_TIMEOUT_SECONDS="4",
    )
    stack.ready(gateway)

    slow = httpx.get(f"{gateway.url}/products/slow?seconds=1", timeout=10)
    too_slow = httpx.get(f"{gateway.url}/products/slow?seconds=6", timeout=15)

    assert slow.status_code == 200, slow.text
    assert slow.json()["instance_id"] == "knative"
    assert too_slow.status_code == 504
    assert too_slow.headers["content-type"] == "application/problem+json"
    assert metric(gateway, "gateway_fallback_requests_total", upstream="products") == 2
    assert metric(gateway, "gateway_breaker_transitions_total") == 0


def test_only_idempotent_requests_are_retried_on_another_instance(
    stack: Stack, tmp_path: Path
) -> None:
    routes = tmp_path / "routes.json"
    routes.write_text(
        json.dumps(
            {
                "services": {"products": {}},
                "routes": [
                    {"prefix": "/products", "service": "products", "auth": "public"},
                ],
            }
        )
    )
    upstreams = [stack.upstream("products", f"p{i}") for i in range(2)]
    gateway = stack.gateway(GATEWAY_ROUTES_FILE=str(routes), GATEWAY_BREAKER_FAILURES="1000")
    stack.ready(*upstreams, gateway)
    eventually(lambda: instances_seen(gateway, "/products/health", 6) == {"p0", "p1"})
    httpx.post(f"{upstreams[1].url}/control", json={"status": 503}, timeout=5)

    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        plain = [client.post("/products/flaky", json={}).status_code for _ in range(10)]
        keyed = [
            client.post("/products/flaky", json={}, headers={"Idempotency-Key": f"k{i}"})
            for i in range(10)
        ]
        reads = [client.get("/products/flaky").status_code for _ in range(10)]

    assert 503 in plain  # a POST without a key may have had an effect: never repeated
    assert {r.status_code for r in keyed} == {200}
    assert {r.json()["instance_id"] for r in keyed} == {"p0"}
    assert set(reads) == {200}
    assert metric(gateway, "gateway_retries_total", upstream="products") >= 10
