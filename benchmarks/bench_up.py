"""`shop up` on a warm machine: time until every instance is ready, against the same number of
bare Litestar apps started in parallel in the same run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time

from benchmarks.bench_runtime import ready
from benchmarks.report import ROOT, Section, Stat
from devtools.embedded_redis import free_port

RUNS = int(os.environ.get("BENCH_UP_RUNS", "3"))
READY = re.compile(r"all (\d+) instances ready in ([0-9.]+)s")


def stack_once() -> tuple[int, float]:
    data = tempfile.mkdtemp(prefix="bench-up-")
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools", "up", "--port", str(free_port()), "--data-dir", data],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "REDIS_URL"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            found = READY.search(line)
            if found:
                return int(found.group(1)), float(found.group(2))
        raise RuntimeError("shop up ended before it was ready")
    finally:
        process.send_signal(2)
        process.wait(60)


def bare_once(count: int) -> float:
    ports = [free_port() for _ in range(count)]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "benchmarks.bare_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        pending = set(ports)
        while pending:
            pending = {port for port in pending if not ready(port)}
            time.sleep(0.005)
        return time.perf_counter() - started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


def run() -> Section:
    stack: list[float] = []
    bare: list[float] = []
    count = 0
    for _ in range(RUNS):
        count, seconds = stack_once()
        stack.append(seconds)
        bare.append(bare_once(count))
    up, base = Stat.of(stack), Stat.of(bare)
    return Section(
        name="up",
        title="`shop up`: the whole local stack to all-ready",
        command="uv run task bench -- up",
        headers=["what", "to all-ready", "× baseline"],
        rows=[
            [
                f"`shop up` ({count} instances, private Redis, SQLite, demo data)",
                up.fmt("s", 1, 2),
                f"{up.median / base.median:.2f}×",
            ],
            [
                f"baseline: {count} bare Litestar apps started in parallel",
                base.fmt("s", 1, 2),
                "1.00×",
            ],
        ],
        notes=[
            f"{RUNS} runs each, interleaved, warm machine (bytecode compiled, page cache warm).",
            "Target: ≤ 3 s to all-ready.",
        ],
    )
