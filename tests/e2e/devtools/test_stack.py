"""`shop up`: the whole local stack as real processes, and a clean Ctrl-C."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
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


def stop(process: subprocess.Popen[str]) -> None:
    """Ctrl-C, so `shop up` stops its instances too (a kill would orphan them)."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def up(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A `shop up` that is expected to stop by itself (it fails at start)."""
    command = [sys.executable, "-m", "devtools", "up", *args]
    return subprocess.run(command, cwd=ROOT, env=env, **CAPTURE)


class Impostor(http.server.BaseHTTPRequestHandler):
    """Another program on the port, answering 200 to everything (as another stack's gateway)."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: Any) -> None:
        pass


def test_shop_up_on_a_taken_port_fails_at_once_and_starts_nothing(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Impostor)
    thread = threading.Thread(target=other.serve_forever)
    thread.start()
    data_dir = Path(tempfile.mkdtemp(prefix="shop-up-"))
    env = {**os.environ, "REDIS_URL": redis_url, "SHOP_DATA_DIR": str(data_dir)}
    try:
        result = up("--port", str(other.server_address[1]), env=env)
        assert result.returncode == 1, result.stdout
        assert f"port {other.server_address[1]} is already in use" in result.stdout
        assert "instances ready" not in result.stdout
        assert not (data_dir / "logs").exists()  # no instance was ever started
        assert client.smembers("{shop}:registry:services") == set()
    finally:
        other.shutdown()
        thread.join(10)
        other.server_close()
        client.flushdb()
        client.close()


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
        second = up("--port", str(free_port()), env=env)
        assert second.returncode == 1
        assert f"{Path(data_dir).resolve()} is in use by another `shop up`" in second.stdout
        assert "instances ready" not in second.stdout
        assert client.zcard("{shop}:registry:products:alive") == 2  # the first stack is intact
        assert httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        assert process.returncode == 0, rest
        assert "exited cleanly" in rest
        for service in services:
            assert client.zcard(f"{{shop}}:registry:{service}:alive") == 0, service
        assert not (Path(data_dir) / "shop-up.json").exists()
    finally:
        stop(process)
        client.flushdb()
        client.close()


def restart_under_load(
    service: str, port: int, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], list[int], list[int]]:
    """`shop restart SERVICE` while two clients call the gateway back to back: one on a
    keep-alive connection, one on a new connection per request (0: a transport error)."""
    kept: list[int] = []
    fresh: list[int] = []
    stop = threading.Event()

    def load(outcomes: list[int], headers: dict[str, str]) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            while not stop.is_set() and len(outcomes) < 20_000:
                try:
                    response = http.get("/products", params={"limit": 1}, headers=headers)
                    outcomes.append(response.status_code)
                except httpx.TransportError:
                    outcomes.append(0)

    loaders = [
        threading.Thread(target=load, args=(kept, {})),
        threading.Thread(target=load, args=(fresh, {"connection": "close"})),
    ]
    for loader in loaders:
        loader.start()
    try:
        command = [sys.executable, "-m", "devtools", "restart", service]
        restart = subprocess.run(command, cwd=ROOT, env=env, **{**CAPTURE, "timeout": 120})
        time.sleep(0.5)
    finally:
        stop.set()
        for loader in loaders:
            loader.join(30)
    return restart, kept, fresh


def test_rolling_restarts_of_a_function_and_the_gateway_fail_no_request_and_a_crash_is_restarted(
    redis_url: str,
) -> None:
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
        for service in ("products", "gateway"):
            restart, kept, fresh = restart_under_load(service, port, env)
            assert restart.returncode == 0, restart.stdout + restart.stderr
            assert f"ok: {service} restarted" in restart.stdout
            assert len(kept) > 20
            assert len(fresh) > 20
            assert [code for code in kept + fresh if code != 200] == [], service
        gateways = client.zrange("{shop}:registry:gateway:alive", 0, -1)
        assert len(gateways) == 1  # the old gateway left; the new one serves the same port

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
        stop(process)
        client.flushdb()
        client.close()
