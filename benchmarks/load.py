"""`task load`: the Locust mix against the shop on 127.0.0.1, headless and bounded.

Without `--host` it runs its own `shop up` on a free port (fresh data directory, known admin,
so the run can stock its products) and stops it afterwards. The per-client rate limits are
raised for that stack: every virtual user shares one address, and the run measures the shop,
not the limiter. With `--host` it targets a running stack (loopback only) as it is.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ADMIN = ("admin", "load-test-admin-password")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="task load", description=__doc__)
    parser.add_argument("--host", help="a running gateway on loopback (default: start one)")
    parser.add_argument("--users", type=int, default=20, help="virtual users (max 200)")
    parser.add_argument(
        "--spawn-rate", type=float, default=2.0, help="users started (signing up) per second"
    )
    parser.add_argument("--duration", default="30s", help="run time, e.g. 30s or 2m (max 10m)")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= 200:
        parser.error("--users must be 1..200")
    if _seconds(args.duration) > 600:
        parser.error("--duration must be at most 10m")
    if args.host is not None:  # the locustfile refuses anything but loopback
        return _run(args, args.host, dict(os.environ))
    with local_shop() as host:
        return _run(args, host, admin_env())


def admin_env() -> dict[str, str]:
    """The environment for Locust against `local_shop()`: its admin stocks the load products."""
    return {**os.environ, "SHOP_ADMIN_USERNAME": ADMIN[0], "SHOP_ADMIN_PASSWORD": ADMIN[1]}


def locust(host: str, users: int, spawn_rate: float, duration: str, *extra: str) -> list[str]:
    """The headless, bounded Locust command line for the shopper mix."""
    return [
        *(sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py")),
        *("--headless", "--only-summary", "--host", host),
        *("--users", str(users), "--spawn-rate", str(spawn_rate)),
        *("--run-time", duration, "--stop-timeout", "5", "--loglevel", "WARNING", *extra),
    ]


def _run(args: argparse.Namespace, host: str, env: dict[str, str]) -> int:
    print(f"locust: {args.users} users for {args.duration} against {host}", flush=True)
    command = locust(host, args.users, args.spawn_rate, args.duration)
    return subprocess.run(command, env=env, check=False).returncode


@contextmanager
def local_shop() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data_dir = tempfile.mkdtemp(prefix="shop-load-")
    env = {
        **admin_env(),
        "SHOP_DATA_DIR": data_dir,
        "RATE_LIMIT_PER_SECOND": "100000",
        "RATE_LIMIT_BURST": "100000",
        "RATE_LIMIT_AUTH_PER_MINUTE": "100000",
        "RATE_LIMIT_AUTH_BURST": "10000",
        # Every simulated shopper comes from 127.0.0.1: per-client limits would count them as one.
        "PASSWORD_HASHES_PER_CLIENT": "64",
        "LOGIN_FAILURES_PER_CLIENT": "100000",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)  # its own embedded Redis, never someone else's database
    log = Path(data_dir) / "shop-up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools", "up", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    host = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(host, process, log)
        yield host
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(data_dir, ignore_errors=True)


def _wait_ready(host: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"shop up exited {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{host}/products", timeout=1.0).status_code == 200:
                token = httpx.post(
                    f"{host}/auth/token",
                    json={"username": ADMIN[0], "password": ADMIN[1]},
                    timeout=2.0,
                )
                if token.status_code == 200:
                    return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"shop up was not ready within 60s:\n{log.read_text()}")


def _seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except (ValueError, IndexError):
        raise SystemExit(f"cannot read the duration {text!r}; use e.g. 30s or 2m") from None


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
