"""HTTP clients side by side on one upstream: CPU per call, from this process pinned to one core.

Two questions. The proxy's (raw calls): httpx's pool, httpx over the `httpx-aiohttp` transport,
aiohttp and the lean client (`shop.http`, the gateway's `UpstreamClient`). And orders ->
products' (a service call: JSON reply decoded, request id and timeouts): the service client
(`ServiceClients`, on the lean client) against the same call on httpx, the general client.
Every row runs in the same process against the same upstream, one after the other.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable

from benchmarks.bench_gateway import APP_CORE, PROXY_CORE, Processes, private_redis
from benchmarks.report import Section

CALLS = int(os.environ.get("BENCH_CLIENT_CALLS", "3000"))
WORKERS = 16
PATH = "/products/items"
LEAN = "lean: `UpstreamClient` (the gateway's)"
SERVICE_LEAN = "orders → products: `ServiceClients` (lean)"
SERVICE_HTTPX = "orders → products: httpx `AsyncClient`, same call"
Call = Callable[[], Awaitable[object]]


async def _drive(call: Call, calls: int) -> tuple[float, float]:
    async def worker(count: int) -> None:
        for _ in range(count):
            await call()

    await asyncio.gather(*(worker(calls // WORKERS) for _ in range(2)))  # warm the pool
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(calls // WORKERS) for _ in range(WORKERS)))
    done = (calls // WORKERS) * WORKERS
    return (time.process_time() - cpu) / done, done / (time.perf_counter() - wall)


async def client_costs(port: int, calls: int = CALLS) -> dict[str, tuple[float, float]]:
    """CPU seconds per call and calls per second of each client."""
    import aiohttp
    import httpx
    from httpx_aiohttp import AiohttpTransport

    from gateway.upstream import UpstreamClient
    from shop.http.clients import ClientSettings, ServiceClients

    base = f"http://127.0.0.1:{port}"
    url = base + PATH
    results: dict[str, tuple[float, float]] = {}
    async with httpx.AsyncClient() as client:

        async def via_httpx() -> None:
            (await client.get(url)).raise_for_status()

        async def service_via_httpx() -> None:
            reply = await client.get(url, headers={"X-Request-ID": "bench"}, timeout=3.0)
            reply.json()

        results["httpx, default pool"] = await _drive(via_httpx, calls)
        results[SERVICE_HTTPX] = await _drive(service_via_httpx, calls)
    transport = AiohttpTransport(client=aiohttp.ClientSession())
    async with httpx.AsyncClient(transport=transport) as over_aiohttp:

        async def via_httpx_aiohttp() -> None:
            (await over_aiohttp.get(url)).raise_for_status()

        results["httpx + httpx-aiohttp transport"] = await _drive(via_httpx_aiohttp, calls)
    async with aiohttp.ClientSession() as session:

        async def via_aiohttp() -> None:
            async with session.get(url) as response:
                await response.read()

        results["aiohttp"] = await _drive(via_aiohttp, calls)
    upstream = UpstreamClient()
    services = ServiceClients(ClientSettings(fallbacks={"products": base}))
    try:

        async def via_lean() -> None:
            response = await upstream.request(base, "GET", PATH, [], None, 10)
            assert not isinstance(response, str)
            try:
                await response.read()
            finally:
                response.release()

        async def service_via_lean() -> None:
            reply = await services.request("products", "GET", PATH, headers={"X-Request-ID": "b"})
            reply.json()

        results[LEAN] = await _drive(via_lean, calls)
        results[SERVICE_LEAN] = await _drive(service_via_lean, calls)
    finally:
        await upstream.close()
        await services.close()
    return results


def measure() -> dict[str, tuple[float, float]]:
    """Start the upstream app on its own core, then measure from the proxy's core."""
    with private_redis() as redis_url:
        procs = Processes(f"{redis_url}/0")
        try:
            port = procs.app("bench-clients", APP_CORE)
            affinity = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {int(PROXY_CORE)})
            try:
                return asyncio.run(client_costs(port))
            finally:
                os.sched_setaffinity(0, affinity)
        finally:
            procs.close()


def summary(results: dict[str, tuple[float, float]]) -> list[str]:
    lean = results[LEAN][0]
    return [
        f"{name}: {cpu * 1e6:.0f} µs CPU per call ({cpu / lean:.2f}× lean), {rate:.0f} calls/s"
        for name, (cpu, rate) in results.items()
    ]


def run() -> Section:
    results = measure()
    lean = results[LEAN][0]
    section = Section(
        name="clients",
        title="HTTP clients: the general one (httpx) against the lean one, side by side",
        command="uv run task bench -- clients",
        headers=["client", "CPU µs per call", "× lean (raw)", "calls/s"],
        rows=[
            [name, f"{cpu * 1e6:.0f}", f"{cpu / lean:.2f}", f"{rate:.0f}"]
            for name, (cpu, rate) in results.items()
        ],
    )
    ratio = results[SERVICE_HTTPX][0] / results[SERVICE_LEAN][0]
    section.notes = [
        f"{CALLS} calls from {WORKERS} concurrent callers, this process pinned to core "
        f"{PROXY_CORE}, the upstream (`benchmarks.gateway_upstream`) on core {APP_CORE}. "
        f"1-minute load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
        "cores: compare rows within the run.",
        f"orders → products: httpx costs {ratio:.1f}× the CPU per call of `ServiceClients` on "
        "the lean client; that is why service calls and the proxy share the lean client, and "
        "httpx stays the general client off the hot paths.",
    ]
    return section
