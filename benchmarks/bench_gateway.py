"""The gateway against the app it proxies and against nginx, side by side in one run.

Layout on 2 cores: the proxy (gateway or nginx) is pinned to core 0; the upstream app and wrk
share core 1. The direct baseline pins the app to core 1 and wrk to core 0. Every setup runs
in interleaved rounds. CPU per request is the proxy process's own CPU time over the requests
it served, which stays honest on a busy machine. Also measured: which balancing strategy
copes with one slow instance, and what each HTTP client costs per upstream call.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bench_runtime import cpu_seconds, ready
from benchmarks.report import ROOT, Section
from devtools.embedded_redis import free_port

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "4"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
PROXY_CORE, APP_CORE = "0", "1"
ISSUE_DIRECT_RPS = 23_000  # the direct app's rate where the issue's targets were measured
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


@dataclass
class Load:
    rps: float
    p50: float
    p99: float
    requests: int


def tools() -> None:
    """wrk and nginx come from the system's packages; install them when we may."""
    if shutil.which("wrk") and shutil.which("nginx"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk", "nginx"], check=True)
        return
    raise SystemExit("bench gateway needs wrk and nginx: apt-get install wrk nginx")


def wrk(
    url: str, *, connections: int, seconds: float, core: str, headers: tuple[str, ...] = ()
) -> Load:
    out = _wrk_output(url, connections=connections, seconds=seconds, core=core, headers=headers)
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} failed responses under load")
    return Load(rps, _seconds(latency["50"]), _seconds(latency["99"]), total)


def _wrk_argv(
    url: str, *, connections: int, seconds: float, core: str, headers: tuple[str, ...]
) -> list[str]:
    argv = ["taskset", "-c", core, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    for header in headers:
        argv += ["-H", header]
    return [*argv, "--latency", url]


def _wrk_output(
    url: str, *, connections: int, seconds: float, core: str, headers: tuple[str, ...]
) -> str:
    argv = _wrk_argv(url, connections=connections, seconds=seconds, core=core, headers=headers)
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


class Processes:
    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.running: list[subprocess.Popen[bytes]] = []

    def spawn(self, argv: list[str], core: str, **env: str) -> subprocess.Popen[bytes]:
        full = {
            **os.environ,
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": self.redis_url,
            **env,
        }
        process = subprocess.Popen(
            ["taskset", "-c", core, *argv],
            env=full,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.running.append(process)
        return process

    def app(self, instance: str, core: str = APP_CORE, **env: str) -> int:
        port = free_port()
        argv = [sys.executable, "-m", "benchmarks.gateway_upstream"]
        self.spawn(argv, core, PORT=str(port), INSTANCE_ID=instance, **env)
        _wait(port)
        return port

    def gateway(self, **env: str) -> tuple[int, subprocess.Popen[bytes]]:
        return self._gateway("devtools", "serve", "gateway", **env)

    def plain_gateway(self, **env: str) -> tuple[int, subprocess.Popen[bytes]]:
        """A gateway on uvicorn's own httptools, without the hardening limits."""
        return self._gateway("benchmarks.plain_gateway", **env)

    def _gateway(self, *module: str, **env: str) -> tuple[int, subprocess.Popen[bytes]]:
        port = free_port()
        process = self.spawn([sys.executable, "-m", *module], PROXY_CORE, PORT=str(port), **env)
        _wait(port)
        return port, process

    def floor(self) -> tuple[int, subprocess.Popen[bytes]]:
        """A raw ASGI app on uvicorn, on the proxy's core: what serving alone costs."""
        port = free_port()
        argv = [sys.executable, "-m", "uvicorn", "benchmarks.raw_asgi:app", "--port", str(port)]
        argv += ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
        process = self.spawn(argv, PROXY_CORE, LOG_LEVEL="WARNING")
        _wait(port)
        return port, process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def close(self) -> None:
        for process in reversed(self.running):
            if process.poll() is None:
                self.stop(process)


def _wait(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing ready on port {port}")
        time.sleep(0.05)


def _until_routed(port: int, expected: int = 1, service: str = "products") -> None:
    """Wait until the gateway's view routes to `expected` distinct instances."""
    import httpx

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        seen = set()
        for _ in range(expected * 4):
            response = httpx.get(f"http://127.0.0.1:{port}/{service}/health", timeout=2)
            if response.status_code == 200:
                seen.add(response.json()["instance_id"])
        if len(seen) >= expected:
            return
        time.sleep(0.1)
    raise TimeoutError("the gateway never saw the upstream instances")


@contextmanager
def private_redis() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def nginx(upstream: int) -> Iterator[tuple[int, int]]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as directory:
        conf = Path(directory) / "nginx.conf"
        conf.write_text(
            f"""worker_processes 1;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  upstream app {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"""
        )
        process = subprocess.Popen(
            ["taskset", "-c", PROXY_CORE, "nginx", "-c", str(conf), "-p", directory],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_tcp(port)
            yield port, process.pid
        finally:
            process.terminate()
            process.wait(10)


def _wait_tcp(port: int) -> None:
    import socket

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (nginx's master and worker)."""
    total = cpu_seconds(pid)
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        with suppress(OSError):
            total += cpu_seconds(int(child))
    return total


@dataclass
class Target:
    name: str
    url: str
    wrk_core: str
    pid: int | None  # the proxy process whose CPU we count
    headers: tuple[str, ...] = ()


def _h(target: Target) -> dict[str, tuple[str, ...]]:
    return {"headers": target.headers}


def _measure(targets: list[Target]) -> dict[str, dict[str, list[float]]]:
    results: dict[str, dict[str, list[float]]] = {t.name: {} for t in targets}
    for target in targets:  # warm-up: connection pools, caches, the JIT-less interpreter's dicts
        wrk(target.url, connections=CONNECTIONS, seconds=1, core=target.wrk_core, **_h(target))
    for _ in range(ROUNDS):
        for target in targets:
            before = tree_cpu(target.pid) if target.pid else 0.0
            loaded = wrk(
                target.url,
                connections=CONNECTIONS,
                seconds=SECONDS,
                core=target.wrk_core,
                **_h(target),
            )
            used = tree_cpu(target.pid) - before if target.pid else float("nan")
            idle = wrk(
                target.url, connections=1, seconds=SECONDS, core=target.wrk_core, **_h(target)
            )
            row = results[target.name]
            for key, value in (
                ("rps", loaded.rps),
                ("cpu", used / loaded.requests),
                ("p50", loaded.p50),
                ("p99", loaded.p99),
                ("idle50", idle.p50),
                ("idle99", idle.p99),
            ):
                row.setdefault(key, []).append(value)
    return results


DEFAULTS = "gateway, defaults (JWT, rate limit, hardening)"
NO_LIMIT = "gateway (no rate limit)"
NO_LIMIT_CPU = "gateway (no rate limit) CPU"
PLAIN = "gateway (no rate limit) without the hardening limits (uvicorn's own httptools)"
LIMITED = "gateway + rate limit (local buckets, synced to Redis every 0.2 s)"
# Rates high enough that no request is refused: the limit's mechanism runs all the same.
UNREFUSED = {"RATE_LIMIT_PER_SECOND": "1000000", "RATE_LIMIT_BURST": "1000000"}


@contextmanager
def bearer_token() -> Iterator[tuple[str, str]]:
    """A key set in a file (the upstream serves it) and a token signed with its key."""
    from functions.users.keys import SigningKeys, generate_pem

    keys = SigningKeys([generate_pem()])
    token = keys.issue(
        subject="bench",
        role="customer",
        email="bench@example.com",
        issuer="shop",
        audience="shop",
        ttl=86_400,
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="bench-jwks-") as jwks:
        jwks.write(json.dumps(keys.jwks()))
        jwks.flush()
        yield jwks.name, token


def _proxies(
    procs: Processes, jwks_file: str, token: str
) -> tuple[list[list[str]], dict[str, float]]:
    app = procs.app("bench-1")
    # The same app registered as orders, whose routes need a token; it serves the key set too.
    orders = procs.app("bench-orders", BENCH_SERVICE="orders", BENCH_JWKS_FILE=jwks_file)
    gateway, gateway_process = procs.gateway(RATE_LIMIT_ENABLED="false")
    plain, plain_process = procs.plain_gateway(RATE_LIMIT_ENABLED="false")
    routed, routed_process = procs.gateway(RATE_LIMIT_ENABLED="false", GATEWAY_DISPATCH="router")
    limited, limited_process = procs.gateway(**UNREFUSED)
    exact, exact_process = procs.gateway(RATE_LIMIT_LOCAL_SHARE="0", **UNREFUSED)
    defaults, defaults_process = procs.gateway(
        JWKS_URL=f"http://127.0.0.1:{orders}/.well-known/jwks.json", **UNREFUSED
    )
    floor, floor_process = procs.floor()
    for port in (gateway, plain, routed, limited, exact):
        _until_routed(port)
    _until_routed(defaults, service="orders")
    path = "/products/items"
    with nginx(app) as (nginx_port, nginx_pid):
        targets = [
            Target("direct app (Litestar on uvicorn)", f"http://127.0.0.1:{app}{path}", "0", None),
            Target(NO_LIMIT, f"http://127.0.0.1:{gateway}{path}", APP_CORE, gateway_process.pid),
            Target(
                PLAIN,
                f"http://127.0.0.1:{plain}{path}",
                APP_CORE,
                plain_process.pid,
            ),
            Target(
                "gateway through Litestar's router (`GATEWAY_DISPATCH=router`)",
                f"http://127.0.0.1:{routed}{path}",
                APP_CORE,
                routed_process.pid,
            ),
            Target(
                LIMITED,
                f"http://127.0.0.1:{limited}{path}",
                APP_CORE,
                limited_process.pid,
            ),
            Target(
                "gateway + rate limit checked in Redis per request (`RATE_LIMIT_LOCAL_SHARE=0`)",
                f"http://127.0.0.1:{exact}{path}",
                APP_CORE,
                exact_process.pid,
            ),
            Target(
                DEFAULTS,
                f"http://127.0.0.1:{defaults}/orders/items",
                APP_CORE,
                defaults_process.pid,
                (f"Authorization: Bearer {token}",),
            ),
            Target(
                "floor: raw ASGI on uvicorn, answering from memory (no proxying)",
                f"http://127.0.0.1:{floor}{path}",
                APP_CORE,
                floor_process.pid,
            ),
            Target(
                "nginx (1 worker, keepalive)",
                f"http://127.0.0.1:{nginx_port}{path}",
                APP_CORE,
                nginx_pid,
            ),
        ]
        results = _measure(targets)
    direct = results[targets[0].name]
    base_rps = statistics.median(direct["rps"])
    summary: dict[str, float] = {"direct_rps": base_rps}
    rows = []
    for target in targets:
        r = {key: statistics.median(values) for key, values in results[target.name].items()}
        is_direct = target.pid is None
        added50 = (r["idle50"] - statistics.median(direct["idle50"])) * 1000
        added99 = (r["idle99"] - statistics.median(direct["idle99"])) * 1000
        rows.append(
            [
                target.name,
                f"{r['rps']:.0f}",
                f"{r['rps'] / base_rps:.2f}×",
                "-" if is_direct else f"{r['cpu'] * 1e6:.0f}",
                f"{r['p50'] * 1000:.2f} / {r['p99'] * 1000:.2f}",
                f"{r['p99'] / r['p50']:.2f}",
                f"{r['idle50'] * 1000:.2f} / {r['idle99'] * 1000:.2f}",
                "-" if is_direct else f"{added50:+.2f} / {added99:+.2f}",
            ]
        )
        summary[target.name] = r["rps"] / base_rps
        if target.name.startswith("floor"):
            summary["floor_cpu"] = r["cpu"] * 1e6
        if target.name in (DEFAULTS, PLAIN, LIMITED):
            summary[f"{target.name} CPU"] = r["cpu"] * 1e6
        if target.name == DEFAULTS:
            summary["defaults_cpu"] = r["cpu"] * 1e6
        if target.name == NO_LIMIT:
            summary.update(
                cpu=r["cpu"] * 1e6, added50=added50, added99=added99, tail=r["p99"] / r["p50"]
            )
    return rows, summary


OVERSHOOT_RATE, OVERSHOOT_BURST, OVERSHOOT_SECONDS = 200, 100, 4
OVERSHOOT_SHARE = 0.1  # the default RATE_LIMIT_LOCAL_SHARE


def _overshoot(procs: Processes, redis_url: str) -> dict[str, float]:
    """Two gateways on one Redis, one client hammering both at once with a small limit: how
    many 2xx beyond the allowance (rate x T + burst), against the bound."""
    import redis

    procs.app("overshoot-1", REDIS_URL=redis_url)
    limits = {
        "REDIS_URL": redis_url,
        "RATE_LIMIT_PER_SECOND": str(OVERSHOOT_RATE),
        "RATE_LIMIT_BURST": str(OVERSHOOT_BURST),
        "RATE_LIMIT_LOCAL_SHARE": str(OVERSHOOT_SHARE),
    }
    ports = [procs.gateway(**limits)[0] for _ in range(2)]
    for port in ports:
        _until_routed(port)
    time.sleep(OVERSHOOT_BURST / OVERSHOOT_RATE + 0.5)  # the checks above: buckets full again
    with redis.Redis.from_url(redis_url) as client:
        for key in client.scan_iter("ratelimit:*"):
            client.delete(key)
    started = time.monotonic()
    runs = [
        subprocess.Popen(
            _wrk_argv(
                f"http://127.0.0.1:{port}/products/items",
                connections=8,
                seconds=OVERSHOOT_SECONDS,
                core=APP_CORE,
                headers=(),
            ),
            stdout=subprocess.PIPE,
            text=True,
        )
        for port in ports
    ]
    outputs = [run.communicate()[0] for run in runs]
    elapsed = time.monotonic() - started
    admitted = 0
    for out in outputs:
        total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        admitted += total - (int(refused.group(1)) if refused else 0)
    allowance = OVERSHOOT_RATE * elapsed + OVERSHOOT_BURST
    bound = (len(ports) - 1) * int(OVERSHOOT_BURST * OVERSHOOT_SHARE)
    return {
        "admitted": admitted,
        "allowance": allowance,
        "overshoot": admitted / allowance - 1,
        "bound": bound / allowance,
        "bound_requests": bound,
        "seconds": elapsed,
    }


STRATEGIES = ("round_robin", "least_outstanding", "p2c")


def _tails(procs: Processes) -> tuple[list[str], float]:
    """p99/p50 of the direct app and the gateway across concurrency: how much of the tail
    this machine adds on its own."""
    app = procs.app("tail-1")
    gateway, _ = procs.gateway(RATE_LIMIT_ENABLED="false")
    _until_routed(gateway)
    lines = []
    worst_direct = 0.0
    for name, port, core in (("direct", app, PROXY_CORE), ("gateway", gateway, APP_CORE)):
        ratios = []
        for connections in (4, 8, 16, 32):
            url = f"http://127.0.0.1:{port}/products/items"
            load = wrk(url, connections=connections, seconds=SECONDS, core=core)
            ratios.append(f"-c{connections} {load.p99 / load.p50:.2f}")
            if name == "direct":
                worst_direct = max(worst_direct, load.p99 / load.p50)
        lines.append(f"{name}: " + ", ".join(ratios))
    return lines, worst_direct


def _balancers(procs: Processes, redis_url: str) -> list[str]:
    """Three instances, one 100 ms slower: which strategy keeps latency and throughput?"""
    env = {"REDIS_URL": redis_url}
    for name, delay in (("lb-a", "0"), ("lb-b", "0"), ("lb-c", "100")):
        procs.app(name, BENCH_DELAY_MS=delay, **env)
    gateways = {}
    for strategy in STRATEGIES:
        port, _ = procs.gateway(GATEWAY_BALANCER=strategy, RATE_LIMIT_ENABLED="false", **env)
        _until_routed(port, expected=3)
        gateways[strategy] = port
    samples: dict[str, list[Load]] = {s: [] for s in STRATEGIES}
    for _ in range(ROUNDS):
        for strategy, port in gateways.items():
            url = f"http://127.0.0.1:{port}/products/items"
            samples[strategy].append(wrk(url, connections=16, seconds=SECONDS, core=APP_CORE))
    lines = []
    for strategy, loads in samples.items():
        rps = statistics.median(x.rps for x in loads)
        p50 = statistics.median(x.p50 for x in loads) * 1000
        p99 = statistics.median(x.p99 for x in loads) * 1000
        lines.append(f"`{strategy}`: {rps:.0f} rps, p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    return lines


def run() -> Section:
    from benchmarks.bench_clients import LEAN, client_costs
    from benchmarks.bench_clients import summary as client_summary

    tools()
    section = Section(
        name="gateway",
        title="Gateway: proxy overhead against the direct app and nginx",
        command="uv run task bench -- gateway",
        headers=[
            "setup",
            "throughput (rps)",
            "× direct",
            "proxy CPU µs/req",
            "p50 / p99 under load (ms)",
            "p99/p50",
            "unloaded p50 / p99 (ms)",
            "added p50 / p99 (ms)",
        ],
    )
    load_before = os.getloadavg()[0]
    with private_redis() as redis_url, bearer_token() as (jwks_file, token):
        procs = Processes(f"{redis_url}/0")
        try:
            rows, summary = _proxies(procs, jwks_file, token)
            client_port = procs.app("bench-clients")
            affinity = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {int(PROXY_CORE)})
            try:
                costs = asyncio.run(client_costs(client_port))
            finally:
                os.sched_setaffinity(0, affinity)
            clients = client_summary(costs)
            overshoot = _overshoot(procs, f"{redis_url}/2")
            balancing = _balancers(procs, f"{redis_url}/1")
            tails, worst_direct = _tails(procs)
        finally:
            procs.close()
    lean = costs[LEAN][0] * 1e6
    floors = summary["floor_cpu"] + lean
    defaults_ratio = summary[DEFAULTS]
    defaults_cpu = summary["defaults_cpu"] / floors
    rows += [
        ["floor: one upstream call on the lean client (`UpstreamClient`, see below)"]
        + ["-"] * 2
        + [f"{lean:.0f}"]
        + ["-"] * 4,
        ["sum of the two floors (serving + one upstream call)"]
        + ["-"] * 2
        + [f"{floors:.0f}"]
        + ["-"] * 4,
        [f"{DEFAULTS} ÷ sum of the floors"] + ["-"] * 2 + [f"{defaults_cpu:.2f}×"] + ["-"] * 4,
    ]
    section.rows = rows
    load = max(load_before, os.getloadavg()[0])
    ratio = summary["gateway (no rate limit)"]
    scale = ISSUE_DIRECT_RPS / summary["direct_rps"]
    met = {True: "met", False: "NOT met"}
    section.notes = [
        f"Issue 14's targets for the gateway as shipped ({DEFAULTS}: a bearer token verified "
        "on a route that needs one, the cluster-wide rate limit on at a rate no request "
        f"reaches, the hardening limits): ≥ 0.65× direct, got {defaults_ratio:.2f}× "
        f"({met[defaults_ratio >= 0.65]}); CPU per request ≤ 1.2× the sum of the floors "
        f"(uvicorn answering from memory {summary['floor_cpu']:.0f} µs + one lean-client call "
        f"{lean:.0f} µs = {floors:.0f} µs), got {summary['defaults_cpu']:.0f} µs = "
        f"{defaults_cpu:.2f}× ({met[defaults_cpu <= 1.2]}).",
        _parts(summary, floors),
        f"Rate limit across replicas: two gateways on one Redis, limit {OVERSHOOT_RATE}/s with "
        f"a burst of {OVERSHOOT_BURST} (quota {OVERSHOOT_SHARE} × burst per replica between "
        f"syncs), one client hammering both for {overshoot['seconds']:.1f} s: "
        f"{overshoot['admitted']:.0f} answered 2xx against an allowance of "
        f"{overshoot['allowance']:.0f} (rate × T + burst): overshoot "
        f"{overshoot['overshoot']:+.1%}, bound (replicas − 1) × quota = "
        f"{overshoot['bound_requests']:.0f} requests = {overshoot['bound']:+.1%} "
        f"({met[overshoot['overshoot'] <= overshoot['bound']]}).",
        f"wrk -t1 -c{CONNECTIONS}, {SECONDS} s × {ROUNDS} interleaved rounds, medians; unloaded "
        "is -c1 for as long. Proxy on core 0; app and wrk share core 1 (direct: app core 1, wrk "
        "core 0).",
        f"1-minute load average during the run: up to {load:.1f} on {os.cpu_count()} cores. "
        "When other work shares the machine, absolute rates and latencies fall and CPU time per "
        "request rises for every row alike: compare rows within the run, not across runs.",
        f"Targets: ≥ 0.5× direct (got {ratio:.2f}×), ≤ 80 µs CPU/request "
        f"(got {summary['cpu']:.0f}), added ≤ +0.2 ms p50 / +0.4 ms p99 unloaded "
        f"(got {summary['added50']:+.2f} / {summary['added99']:+.2f}), p99 ≤ 2× p50 under "
        f"load (got {summary['tail']:.2f}×).",
        f"The floor row is uvicorn alone answering from memory on the proxy's core: "
        f"{summary['floor_cpu']:.0f} µs CPU per request before any proxying. A Python proxy "
        "serves a request and makes one (see the client costs below), so CPU ≤ 80 µs and "
        "+0.2 ms are below what CPython reaches on this machine; nginx, in C, is the reference "
        "for them.",
        f"The issue's targets were set where the direct app served ≈ {ISSUE_DIRECT_RPS} rps; "
        f"here it serves {summary['direct_rps']:.0f}, a machine {scale:.1f}× slower per request. "
        f"Scaled by that, ≤ 80 µs is ≤ {80 * scale:.0f} µs here (got {summary['cpu']:.0f}) and "
        f"+0.2 / +0.4 ms is +{0.2 * scale:.2f} / +{0.4 * scale:.2f} ms (got "
        f"{summary['added50']:+.2f} / {summary['added99']:+.2f}).",
        "p99/p50 across concurrency (same layout, one 4 s run each): "
        + "; ".join(tails)
        + f". The direct app alone, with no proxy in front, reaches {worst_direct:.2f}.",
        "Balancing, measured, 3 instances of which one answers 100 ms slower (-c16): "
        + "; ".join(balancing)
        + ".",
        "Balancing, simulated (the real `Balancer` in virtual time, 50k requests; three FIFO "
        "instances with mean service 1, 1 and 5 ms; Poisson arrivals at 70% of capacity), p50 / "
        "p99: "
        + "; ".join(
            f"`{name}` {p50:.2f} / {p99:.2f} ms"
            for name, (p50, p99) in ((n, simulate_balancing(n)) for n in STRATEGIES)
        )
        + ". Round robin overloads the slow instance (its queue grows without bound); "
        "`least_outstanding` keeps both the median and the tail lowest, so it is the default.",
        "Upstream clients, 16 concurrent callers pinned to one core: " + "; ".join(clients) + ".",
    ]
    return section


def _parts(summary: dict[str, float], floors: float) -> str:
    """Where the defaults' CPU goes, each optional part priced by a row of the same run."""
    plain = summary[f"{PLAIN} CPU"]
    hardening = summary["cpu"] - plain
    limit = summary[f"{LIMITED} CPU"] - summary["cpu"]
    jwt = summary["defaults_cpu"] - summary[f"{LIMITED} CPU"]
    return (
        f"Where the defaults' {summary['defaults_cpu']:.0f} µs go (differences of rows of this "
        f"run, each as noisy as its rows): the proxy with every optional part off (no JWT, no "
        f"rate limit, no hardening limits) {plain:.0f} µs = {plain / floors:.2f}× the sum of the "
        f"floors; the hardening limits {hardening:+.0f} µs, the rate limit {limit:+.0f} µs, the "
        f"JWT route (a cached verification, and the token's header read and forwarded) "
        f"{jwt:+.0f} µs. The optional parts are not what stands between the defaults and 1.2× "
        f"({1.2 * floors:.0f} µs): the bare proxy is over it already. What it spends beyond the "
        "floors is its own path: relaying a response with its headers through the ASGI messages "
        "(uvicorn checks each header, and writes the head and the body apart), the request id "
        "and metrics, the route match, the balancer, breaker and watchdog, the upstream headers."
    )


def simulate_balancing(
    strategy: str, *, requests: int = 50_000, seed: int = 7
) -> tuple[float, float]:
    """p50 and p99 latency (ms) of the real `Balancer` in virtual time: three FIFO instances
    with mean service times of 1, 1 and 5 ms (exponential), Poisson arrivals at 70% of the
    pool's capacity. Free of the machine's noise, unlike the measured runs."""
    import heapq
    import random

    from gateway.balancer import Balancer, Upstream
    from gateway.breaker import CircuitBreaker
    from shop.registry.store import Instance

    class Pool:
        version = 1
        stale = False
        found = tuple(
            Instance(instance_id=name, service="products", address=f"http://{name}")
            for name in ("a", "b", "c")
        )

        def healthy(self, service: str) -> tuple[Instance, ...]:
            return self.found

        def all(self) -> dict[str, tuple[Instance, ...]]:
            return {"products": self.found}

    rng = random.Random(seed)
    balancer = Balancer(
        Pool(), lambda _: CircuitBreaker(), strategy=strategy, rng=random.Random(seed)
    )
    mean = {"a": 1.0, "b": 1.0, "c": 5.0}
    rate = 0.7 * sum(1 / m for m in mean.values())
    free = dict.fromkeys(mean, 0.0)
    latencies: list[float] = []
    events: list[tuple[float, int, str, Upstream | None]] = [(0.0, 0, "arrive", None)]
    order = 1
    while events:
        now, _, kind, upstream = heapq.heappop(events)
        if kind == "done":
            assert upstream is not None
            upstream.outstanding -= 1
            continue
        if len(latencies) < requests:
            chosen = balancer.pick("products")
            assert chosen is not None
            name = chosen.instance.instance_id
            chosen.outstanding += 1
            finish = max(now, free[name]) + rng.expovariate(1 / mean[name])
            free[name] = finish
            latencies.append(finish - now)
            heapq.heappush(events, (finish, order, "done", chosen))
            heapq.heappush(events, (now + rng.expovariate(rate), order + 1, "arrive", None))
            order += 2
    latencies.sort()
    return latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
