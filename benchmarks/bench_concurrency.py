"""How many requests in flight one function process on one core serves well: the knee of its
throughput curve, and the containerConcurrency and autoscaling target taken from it.

Each function runs as a real `shop serve` process pinned to core 1 (`taskset -a -p -c 1`); the
load generator and every other process of the stack are pinned to core 0. A closed loop of N
clients (N = 1, 2, 4 ... 64) drives one endpoint for a bounded time and number of requests per
level. The knee is the smallest N reaching 90% of the endpoint's peak throughput; the ratio of
each level to that peak is what the choice rests on, not the absolute rates (the machine is
shared). containerConcurrency = the smallest power of two >= 2 x knee (headroom for I/O waits),
target = 70% of it. A function with several endpoints takes the smallest recommendation (its
most CPU-bound path governs: a pod never holds more of those than it can serve).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from benchmarks.report import RESULTS, Section, percentile
from devtools.databases import throwaway_database
from devtools.function_stack import FunctionStack, ShopApi
from devtools.served import Served

LEVELS = (1, 2, 4, 8, 16, 32, 64)
ROUNDS = 2  # up the levels, then down: drift on the shared machine hits both ends alike
SECONDS = float(os.environ.get("BENCH_LEVEL_SECONDS", "2.5"))  # per level, at most
REQUESTS = int(os.environ.get("BENCH_LEVEL_REQUESTS", "3000"))  # per level, at most
KNEE_SHARE = 0.9
UTILIZATION = 0.7  # Knative's default target utilization
SERVER_CORE, LOAD_CORE = 1, 0
POSTGRES = os.environ.get("SHOP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
INTERNAL_TOKEN = uuid.uuid4().hex  # this run's internal API token
JSON = RESULTS / "concurrency.json"

One = Callable[[aiohttp.ClientSession, int], Awaitable[int]]  # worker number -> status


@dataclass(frozen=True)
class Level:
    concurrency: int
    requests: int
    failed: int  # non-2xx (shed with 503/429, or errors)
    rps: float  # 2xx per second of the core's time the server had (wall minus starved)
    raw_rps: float  # 2xx per wall second
    p50_ms: float
    p99_ms: float
    cpu_ms: float  # server CPU (user + system) per request
    core: float  # server CPU seconds per wall second: ~1.0 = its core saturated
    starved: float  # share of the wall time its event loop was runnable but not running


@dataclass(frozen=True)
class Endpoint:
    function: str
    name: str
    process: Served
    one: One


def knee(levels: list[Level]) -> int:
    peak = max(level.rps for level in levels)
    if peak == 0:
        raise RuntimeError(f"no request succeeded at any level: {levels}")
    return min(level.concurrency for level in levels if level.rps >= KNEE_SHARE * peak)


def recommend(knee_at: int) -> tuple[int, float]:
    """(containerConcurrency, target) for a knee."""
    concurrency = 1
    while concurrency < 2 * knee_at:
        concurrency *= 2
    return concurrency, round(UTILIZATION * concurrency, 1)


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _waited(pid: int) -> float:
    """Seconds the main thread (the event loop) has spent runnable but not running: the time
    other work on its core took from it (/proc/PID/schedstat, second field, in ns)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def _core_busy(core: int) -> float:
    """CPU seconds core `core` has spent on any work so far (/proc/stat: all but idle, iowait)."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            ticks = [int(field) for field in line.split()[1:8]]
            return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    raise RuntimeError(f"no core {core} in /proc/stat")


def pin(pid: int, core: int) -> None:
    """All threads of `pid` onto `core` (threads made later inherit it)."""
    taskset = shutil.which("taskset")
    if taskset:
        subprocess.run(
            [taskset, "-a", "-p", "-c", str(core), str(pid)], check=True, capture_output=True
        )
    else:
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.sched_setaffinity(int(task.name), {core})


async def drive(session: aiohttp.ClientSession, endpoint: Endpoint, clients: int) -> Level:
    latencies: list[float] = []
    statuses: list[int] = []
    counter = iter(range(REQUESTS))
    deadline = time.perf_counter() + SECONDS

    async def worker(n: int) -> None:
        for _ in counter:
            if time.perf_counter() > deadline:
                return
            started = time.perf_counter()
            statuses.append(await endpoint.one(session, n))
            latencies.append(time.perf_counter() - started)

    pid = endpoint.process.process.pid
    cpu_before, waited_before, began = _cpu(pid), _waited(pid), time.perf_counter()
    core_before = _core_busy(SERVER_CORE)
    await asyncio.gather(*(worker(n) for n in range(clients)))
    wall, cpu = time.perf_counter() - began, _cpu(pid) - cpu_before
    # Time others took from the server: its event loop waited for the core, and others ran on
    # it. The smaller of the two, so neither the server's own threads (argon2) waiting for each
    # other nor others using the core while the server idled count as taken.
    others = _core_busy(SERVER_CORE) - core_before - cpu
    # And never more than the wall time the server did not spend on the CPU itself.
    starved = max(0.0, min(_waited(pid) - waited_before, others, wall - cpu))
    ok = [lat for lat, status in zip(latencies, statuses, strict=True) if status < 300]
    return Level(
        concurrency=clients,
        requests=len(statuses),
        failed=len(statuses) - len(ok),
        rps=len(ok) / (wall - starved),
        raw_rps=len(ok) / wall,
        p50_ms=percentile(ok or [0.0], 50) * 1000,
        p99_ms=percentile(ok or [0.0], 99) * 1000,
        cpu_ms=cpu / max(1, len(statuses)) * 1000,
        core=cpu / wall,
        starved=starved / wall,
    )


async def measure(endpoints: list[Endpoint], everyone: list[Served]) -> dict[str, list[Level]]:
    results: dict[str, list[Level]] = {}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        for endpoint in endpoints:
            for served in everyone:
                core = SERVER_CORE if served is endpoint.process else LOAD_CORE
                pin(served.process.pid, core)
            label = f"{endpoint.function} {endpoint.name}"
            await asyncio.gather(*(endpoint.one(session, n) for n in range(4)))  # warm up
            best: dict[int, Level] = {}
            for round_ in range(ROUNDS):
                for clients in LEVELS if round_ % 2 == 0 else LEVELS[::-1]:
                    level = await drive(session, endpoint, clients)
                    if clients not in best or level.rps > best[clients].rps:
                        best[clients] = level
            results[label] = [best[clients] for clients in LEVELS]
            shown = [
                (level.concurrency, round(level.rps), level.failed) for level in results[label]
            ]
            print(f"   {label}: knee {knee(results[label])}; (in flight, 2xx/s, failed) {shown}")
    return results


def _get(url: str, token: str) -> One:
    headers = {"Authorization": f"Bearer {token}"}

    async def one(session: aiohttp.ClientSession, _: int) -> int:
        async with session.get(url, headers=headers) as response:
            await response.read()
            return response.status

    return one


def _post(
    url: str, body: Callable[[int], dict[str, Any]], headers: Callable[[int], dict[str, str]]
) -> One:
    async def one(session: aiohttp.ClientSession, n: int) -> int:
        async with session.post(url, json=body(n), headers=headers(n)) as response:
            await response.read()
            return response.status

    return one


async def _seed(stack: FunctionStack, notifications: Served) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=60.0) as http:
        api = ShopApi(stack, http)
        admin = await api.admin()
        products = [(await api.product(admin, stock=100_000_000))["id"] for _ in range(8)]
        customers = [await api.customer() for _ in range(4)]
        username = (await api.call("users", "GET", "/users/me", customers[0][1])).json()["username"]
        user_id = customers[0][0]
        for _ in range(20):  # a full first page of the inbox
            headers = {
                "ce-specversion": "1.0",
                "ce-id": uuid.uuid4().hex,
                "ce-source": "/users",
                "ce-type": "shop.user.registered.v1",
                "content-type": "application/json",
            }
            body = {"user_id": user_id, "username": username, "email": f"{username}@example.com"}
            response = await http.post(f"{notifications.url}/events", json=body, headers=headers)
            assert response.status_code == 202, response.text
    return {"products": products, "customers": customers, "username": username}


def endpoints(stack: FunctionStack, notifications: Served, seed: dict[str, Any]) -> list[Endpoint]:
    urls, products = stack.urls, seed["products"]
    tokens = [token for _, token in seed["customers"]]
    username = seed["username"]
    from devtools.function_stack import PASSWORD

    def client(n: int) -> dict[str, str]:  # one client per worker, as the gateway forwards it
        return {"X-Forwarded-For": f"10.0.{n // 250}.{n % 250 + 1}"}

    def order(n: int) -> dict[str, Any]:
        return {"items": [{"product_id": products[n % len(products)], "quantity": 1}]}

    def reserve(n: int) -> dict[str, Any]:
        return {"order_id": uuid.uuid4().hex, **order(n)}

    processes = stack.processes
    return [
        Endpoint(
            "users",
            "POST /auth/token",
            processes["users"],
            _post(
                f"{urls['users']}/auth/token",
                lambda _: {"username": username, "password": PASSWORD},
                client,
            ),
        ),
        Endpoint(
            "users",
            "GET /users/me",
            processes["users"],
            _get(f"{urls['users']}/users/me", tokens[0]),
        ),
        Endpoint(
            "products",
            "GET /products",
            processes["products"],
            _get(f"{urls['products']}/products", tokens[0]),
        ),
        Endpoint(
            "products",
            "POST /internal/reservations",
            processes["products"],
            _post(
                f"{urls['products']}/internal/reservations",
                reserve,
                lambda _: {"X-Internal-Token": INTERNAL_TOKEN},
            ),
        ),
        Endpoint(
            "orders",
            "POST /orders",
            processes["orders"],
            _post(
                f"{urls['orders']}/orders",
                order,
                lambda n: {"Authorization": f"Bearer {tokens[n % len(tokens)]}"},
            ),
        ),
        Endpoint(
            "notifications",
            "GET /notifications",
            notifications,
            _get(f"{notifications.url}/notifications", tokens[0]),
        ),
    ]


def run() -> Section:
    began = time.perf_counter()
    own_affinity = os.sched_getaffinity(0)
    with tempfile.TemporaryDirectory() as directory, ExitStack() as stack_exit:
        os.sched_setaffinity(0, {LOAD_CORE})  # the processes started here start on it
        stack_exit.callback(os.sched_setaffinity, 0, own_affinity)
        stack = FunctionStack(
            "postgresql",
            Path(directory),
            postgres=POSTGRES,
            INTERNAL_API_TOKEN=INTERNAL_TOKEN,
            LOG_LEVEL="WARNING",
        )
        stack_exit.callback(stack.close)
        database = stack_exit.enter_context(
            throwaway_database("postgresql", Path(directory), "notifications", POSTGRES)
        )
        notifications = Served(
            "notifications",
            {**stack.envs["users"], "DATABASE_URL": database},
        )
        stack_exit.callback(notifications.stop)
        notifications.wait_ready(30)
        seed = asyncio.run(_seed(stack, notifications))
        everyone = [*stack.processes.values(), notifications]
        os.sched_setaffinity(0, own_affinity)  # the load generator may use both cores
        results = asyncio.run(measure(endpoints(stack, notifications, seed), everyone))
    return report(results, time.perf_counter() - began)


def report(results: dict[str, list[Level]], took: float) -> Section:
    section = Section(
        name="concurrency",
        title="Concurrency: the knee of each function on one core, and its containerConcurrency",
        command="uv run task bench -- concurrency",
        headers=[
            "function",
            "endpoint",
            "in flight",
            "req/s (wall)",
            "req/s (own core)",
            "of peak",
            "p50",
            "p99",
            "failed",
            "CPU/req",
            "core busy",
            "starved",
        ],
    )
    chosen: dict[str, dict[str, Any]] = {}
    for label, levels in results.items():
        function, endpoint = label.split(" ", 1)
        peak = max(level.rps for level in levels)
        at = knee(levels)
        for level in levels:
            mark = " (knee)" if level.concurrency == at else ""
            section.rows.append(
                [
                    function,
                    endpoint,
                    f"{level.concurrency}{mark}",
                    f"{level.raw_rps:.0f}",
                    f"{level.rps:.0f}",
                    f"{level.rps / peak:.2f}",
                    f"{level.p50_ms:.1f} ms",
                    f"{level.p99_ms:.1f} ms",
                    f"{level.failed}/{level.requests}",
                    f"{level.cpu_ms:.2f} ms",
                    f"{level.core:.2f}",
                    f"{level.starved:.2f}",
                ]
            )
        concurrency, target = recommend(at)
        entry = {
            "endpoint": endpoint,
            "knee": at,
            "container_concurrency": concurrency,
            "target": target,
        }
        if function not in chosen or concurrency < chosen[function]["container_concurrency"]:
            chosen[function] = entry
        if at == LEVELS[-1]:
            section.notes.append(
                f"{function} {endpoint}: still rising at {at} in flight, so its knee is {at} or "
                "more; the recommendation takes it as that level."
            )
    for function, entry in chosen.items():
        section.notes.append(
            f"{function}: knee {entry['knee']} on {entry['endpoint']} -> containerConcurrency "
            f"{entry['container_concurrency']}, target {entry['target']:g}."
        )
    section.notes += [
        "Knee = the smallest number in flight reaching 90% of the endpoint's peak req/s on its "
        "own core. containerConcurrency = the smallest power of two >= 2 x knee (headroom for "
        "I/O waits); target = 70% of it, written as `autoscaling.knative.dev/target` with "
        '`target-utilization-percentage: "100"` so Knative does not take 70% of it again '
        "(ResolveMetricTarget: target x utilization, the target capped by containerConcurrency). "
        "A function with several endpoints takes the smallest recommendation.",
        f"The function under test pinned to core {SERVER_CORE} (`taskset -a -p -c {SERVER_CORE}`), "
        f"the other functions to core {LOAD_CORE}; the load generator (aiohttp, closed loop) and "
        f"PostgreSQL unpinned. Each level runs at most {SECONDS:g} s and {REQUESTS} requests, in "
        f"{ROUNDS} rounds (up the levels, then down); each level shows its better round.",
        "The machine is shared (other test runs), so the pinned core is not the server's alone. "
        "`starved` = the share of the wall time other work took from the server's core: the "
        "smaller of its event loop's time runnable but not running (/proc/PID/schedstat) and "
        "the CPU others used on that core (/proc/stat), so the server's own threads waiting "
        "for each other do not count, and at most the wall time the server was not itself on "
        "the CPU (so req/s on its own core never exceeds 1 / CPU per request). "
        "`req/s (own core)` = 2xx answers / (wall - starved), the rate on a core of its own; "
        "the knee is taken on it. "
        "`core busy` = the server's CPU seconds per wall second. `CPU/req` = the server's CPU "
        "(user + system) per request, the least noisy number here. `failed` counts non-2xx "
        "answers (login sheds with 503 beyond the hashes it can queue, by design).",
        "The gateway is not measured here: it proxies (I/O-bound), so it keeps "
        "containerConcurrency 0 (no hard limit) and its target of 100.",
        f"Load average after the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; run took "
        f"{took:.0f} s.",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {
        "functions": chosen,
        "levels": {label: [asdict(level) for level in levels] for label, levels in results.items()},
    }
    JSON.write_text(json.dumps(record, indent=2) + "\n")
    return section
