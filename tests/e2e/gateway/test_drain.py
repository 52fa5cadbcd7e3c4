"""An instance leaves the registry when Knative STARTS to drain its pod, not at SIGTERM: under
steady gateway load, queue-proxy's quiet period would otherwise restart on every request and the
pod would keep getting traffic until killed. Proven against tests/support/queue_proxy.py, which
drains as Knative's source says; kubelet's part (preStop, then SIGTERM) is played here."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import httpx
import pytest

from devtools.served import Served
from shop.registry.store import Registry
from tests.e2e.gateway.harness import Stack, instances_seen
from tests.support.polling import eventually
from tests.support.services import free_port

pytestmark = pytest.mark.e2e
QUIET_SECONDS = "4"  # Knative's is 30 s; compressed, still far above the watch's 0.2 s


def _registered(redis_url: str) -> set[str]:
    async def ids() -> set[str]:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            return {i.instance_id for i in await Registry(client).instances("products")}
        finally:
            await client.aclose()

    return asyncio.run(ids())


def _load(url: str, stop: threading.Event, seen: list[tuple[int, str]]) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.is_set():
            response = client.get("/products/items")
            seen.append((response.status_code, response.json().get("instance_id", "")))
            time.sleep(0.005)


def test_a_draining_instance_leaves_the_registry_and_gets_no_traffic_before_sigterm(
    stack: Stack, redis_url: str
) -> None:
    qp_port, admin_port = free_port(), free_port()
    qp_url = f"http://127.0.0.1:{qp_port}"
    draining = stack.upstream(
        "products", "p0", ADVERTISE_URL=qp_url, DRAIN_WATCH_URL=qp_url, REGISTRY_TTL_SECONDS="30"
    )
    other = stack.upstream("products", "p1", REGISTRY_TTL_SECONDS="30")
    queue_proxy = Served(
        "queue-proxy",
        {
            "QP_TARGET": draining.url,
            "QP_ADMIN_PORT": str(admin_port),
            "QP_QUIET_SECONDS": QUIET_SECONDS,
        },
        port=qp_port,
        module="tests.support.queue_proxy",
    )
    stack.processes.append(queue_proxy)
    gateway = stack.gateway()
    stack.ready(draining, other, queue_proxy, gateway)
    eventually(lambda: instances_seen(gateway, "/products/health", 8) == {"p0", "p1"}, 20)

    stop, seen = threading.Event(), list[tuple[int, str]]()
    workers = [threading.Thread(target=_load, args=(gateway.url, stop, seen)) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        eventually(lambda: {i for _, i in seen} == {"p0", "p1"}, within=20)
        # Kubelet deletes the pod: SIGTERM to queue-proxy (it has no preStop) and, at once, the
        # user container's preStop GET /wait-for-drain; SIGTERM to the user container after it.
        queue_proxy.signal(signal.SIGTERM)
        prestop_done = threading.Event()

        def prestop_then_sigterm() -> None:
            httpx.get(f"http://127.0.0.1:{admin_port}/wait-for-drain", timeout=120)
            prestop_done.set()
            draining.signal(signal.SIGTERM)

        kubelet = threading.Thread(target=prestop_then_sigterm)
        kubelet.start()

        eventually(lambda: "p0" not in _registered(redis_url), within=15)
        assert not prestop_done.is_set()  # it left while queue-proxy was still draining
        assert draining.process.poll() is None  # and long before its SIGTERM

        # The gateway stops sending to it: counted, not timed.
        eventually(lambda: len(seen) > 0 and all(i == "p1" for _, i in seen[-30:]), within=15)
        settled = len(seen)
        eventually(lambda: len(seen) >= settled + 100, within=30)
        assert "p0" not in {i for _, i in seen[settled:]}
        # With no traffic the quiet period ends: preStop returns, SIGTERM, a clean exit.
        kubelet.join(60)
        assert prestop_done.is_set()
        assert draining.wait(30) == 0
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
    assert {status for status, _ in seen} == {200}
