"""One `shop serve NAME` (or `python -m MODULE`) child process on a free port, for the tests
and the benchmarks."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from devtools.embedded_redis import free_port

ROOT = Path(__file__).resolve().parents[1]


class Served:
    """One `shop serve NAME` child process, on a free port."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        *,
        port: int | None = None,
        module: str | None = None,
    ) -> None:
        """`module` runs `python -m module` instead of `shop serve NAME` (a test's own app)."""
        self.name = name
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix=f"shop-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.data_dir = tempfile.mkdtemp(prefix=f"shop-{name}-data-")
        full_env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "SHOP_DATA_DIR": self.data_dir,
            **env,
            "PORT": str(self.port),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", module]
            if module
            else [sys.executable, "-m", "devtools", "serve", name],
            cwd=ROOT,
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.output()}"
                )
            try:
                if httpx.get(f"{self.url}/ready", timeout=0.5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} not ready within {timeout}s:\n{self.output()}")

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)
        shutil.rmtree(self.data_dir, ignore_errors=True)
