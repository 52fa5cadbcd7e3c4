"""A throwaway PostgreSQL cluster a test starts, restarts and stops itself (initdb + pg_ctl
from the system's PostgreSQL binaries, on a free loopback port, in a temporary directory)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support.services import free_port


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory, if any."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def require_binaries() -> Path:
    found = binaries()
    if found is None:
        _unavailable("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    return found


def _unavailable(why: str) -> NoReturn:
    """A skip with the reason; a failure in CI, which must be able to run the cluster."""
    message = f"no throwaway PostgreSQL cluster: {why}"
    if os.environ.get("CI") or os.environ.get("SHOP_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


class ThrowawayCluster:
    """Trust auth, no fsync; as the `postgres` user when the tests run as root (initdb refuses
    root)."""

    def __init__(self) -> None:
        self.bin = require_binaries()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="shop-pg-"))
        self.data = self.root / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:  # initdb refuses root: the cluster runs as `postgres`
            try:
                self._user = pwd.getpwnam("postgres")
            except KeyError:
                _unavailable("running as root, and there is no `postgres` user to run initdb as")
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self._user is not None:
            command = [
                "setpriv",
                f"--reuid={self._user.pw_uid}",
                f"--regid={self._user.pw_gid}",
                "--init-groups",
                *command,
            ]
        subprocess.run(command, check=True, capture_output=True, timeout=60, cwd=self.root)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c full_page_writes=off -c max_connections=60"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def database(self, name: str) -> str:
        """A new database on the cluster: its URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
