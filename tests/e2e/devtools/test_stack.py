"""`shop up`: the whole local stack as real processes, and a clean Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.support.processes import ROOT
from tests.support.services import free_port

pytestmark = pytest.mark.e2e
# These tests drive load from one client address; the gateway's per-client limits are not
# what they test.
NO_RATE_LIMITS = {"RATE_LIMIT_PER_SECOND": "100000", "RATE_LIMIT_BURST": "100000"}
CAPTURE: dict[str, Any] = {"capture_output": True, "text": True, "timeout": 60, "check": False}


def assert_the_tools_find_the_stack_by_its_data_dir(data_dir: str) -> None:
    """`shop registry` and `shop dlq` with only `--data-dir` (no env) reach this stack."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "SHOP_DATA_DIR"}}
    command = [sys.executable, "-m", "devtools"]
    registry = subprocess.run(
        [*command, "registry", "--data-dir", data_dir], cwd=ROOT, env=env, **CAPTURE
    )
    assert registry.returncode == 0, registry.stderr
    assert len(json.loads(registry.stdout)["products"]) == 2
    dlq = subprocess.run(
        [*command, "dlq", "list", "--data-dir", data_dir], cwd=ROOT, env=env, **CAPTURE
    )
    assert dlq.returncode == 0, dlq.stderr
    assert "0 dead letter(s)" in dlq.stderr


def test_shop_up_runs_every_service_and_ctrl_c_deregisters_them_all(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="shop-up-")
    env = {**os.environ, "REDIS_URL": redis_url, "SHOP_DATA_DIR": data_dir, **NO_RATE_LIMITS}
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools", "up", "--port", str(port), "--replicas", "products=2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        output = "".join(lines)
        assert "instances ready" in output, output
        assert httpx.get(f"http://127.0.0.1:{port}/health").json()["service"] == "gateway"
        services = {m.decode() for m in client.smembers("{shop}:registry:services")}  # type: ignore[union-attr]
        assert {"gateway", "users", "products", "orders", "notifications"} <= services
        assert client.zcard("{shop}:registry:products:alive") == 2
        assert_the_tools_find_the_stack_by_its_data_dir(data_dir)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        assert process.returncode == 0, rest
        assert "exited cleanly" in rest
        for service in services:
            assert client.zcard(f"{{shop}}:registry:{service}:alive") == 0, service
        assert not (Path(data_dir) / "shop-up.json").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        client.flushdb()
        client.close()


def test_a_rolling_restart_fails_no_request_and_a_crash_is_restarted(redis_url: str) -> None:
    import threading

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="shop-up-")
    env = {**os.environ, "REDIS_URL": redis_url, "SHOP_DATA_DIR": data_dir, **NO_RATE_LIMITS}
    command = [sys.executable, "-m", "devtools"]
    process = subprocess.Popen(
        [*command, "up", "--port", str(port), "--replicas", "products=2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        while not (line := process.stdout.readline()).startswith("Ctrl-C"):
            assert line, "shop up ended early"
        outcomes: list[int] = []
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                while not stop.is_set():
                    try:
                        outcomes.append(http.get("/products", params={"limit": 1}).status_code)
                    except httpx.TransportError:
                        outcomes.append(0)

        loader = threading.Thread(target=load)
        loader.start()
        restart = subprocess.run(
            [*command, "restart", "products"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        time.sleep(0.5)
        stop.set()
        loader.join(30)
        assert restart.returncode == 0, restart.stdout + restart.stderr
        assert "ok: products restarted" in restart.stdout
        assert len(outcomes) > 20
        assert [code for code in outcomes if code != 200] == []

        state = json.loads((Path(data_dir) / "shop-up.json").read_text())
        victim = next(i for i in state["instances"] if i["service"] == "orders")
        os.kill(victim["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 60
        seen = ""
        while "restart 1" not in seen and time.monotonic() < deadline:
            seen += process.stdout.readline()
        assert "orders#0 exited (-9); restart 1" in seen
        for _ in range(200):
            try:
                if httpx.get(f"{victim['url']}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("the crashed instance was not restarted")
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        client.flushdb()
        client.close()
