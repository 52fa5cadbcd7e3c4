"""The system under fault: a real `shop up` (its own session, so the whole stack can be
signalled at once) on a private Redis the test may kill, on SQLite or a throwaway PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from tests.support.pg_cluster import ThrowawayCluster
from tests.support.processes import ROOT, PrivateRedis
from tests.support.services import free_port

ADMIN = ("admin", "fault-suite-admin-password")
DATABASES = ("users", "products", "orders", "notifications")
# What would point `shop dlq` at another system than the stack's own.
ELSEWHERE = {"DEAD_LETTERS_URL", "NOTIFICATIONS_URL", "K_SINK", "BROKER_URL"}
ELSEWHERE |= {"SHOP_ADMIN_TOKEN", "SHOP_REPLAY_TOKEN"}  # and as someone else


class FaultStack:
    def __init__(
        self,
        *,
        replicas: tuple[str, ...] = (),
        cluster: ThrowawayCluster | None = None,
        delivery: dict[str, object] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="shop-faults-"))
        self.replicas = replicas
        self.cluster = cluster
        self.redis = PrivateRedis()
        self.redis.start()
        self.env = {
            **os.environ,
            "REDIS_URL": self.redis.url,
            "SHOP_DATA_DIR": str(self.data_dir),
            "SHOP_ADMIN_USERNAME": ADMIN[0],
            "SHOP_ADMIN_PASSWORD": ADMIN[1],
            "SHOP_DEMO_CATALOG": "0",
            "RATE_LIMIT_ENABLED": "false",  # one client address sends all of the load
            "LOG_LEVEL": "WARNING",
            "RESERVATION_TTL_SECONDS": "6",
            "RESERVATION_SWEEP_SECONDS": "0.5",
            "ORDERS_PENDING_GRACE_SECONDS": "3",
            "ORDERS_SWEEP_SECONDS": "0.5",
            # The Broker's retry waits (1 s, doubling 11 times) a tenth as long: a delivery that
            # failed during a fault is tried again within the reconciliation's window.
            "BROKER_TIME_SCALE": "0.1",
        }
        if delivery is not None:  # the Broker's retry policy, short for a test
            self.env["BROKER_MANIFESTS"] = str(self._manifests(delivery))
            self.env["BROKER_PARK_RETRY_SECONDS"] = "1"
        if cluster is not None:
            for name in DATABASES:
                cluster.database(name)
            self.env.update(DB_HOST="127.0.0.1", DB_PORT=str(cluster.port), DB_USER="postgres")
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def _manifests(self, delivery: dict[str, object]) -> Path:
        """The eventing manifests that deploy, with `delivery` over the Broker's own."""
        target = self.data_dir / "eventing"
        target.mkdir()
        for source in (ROOT / "knative" / "eventing").glob("*.yaml"):
            documents = list(yaml.safe_load_all(source.read_text()))
            for doc in documents:
                if doc and doc.get("kind") == "Broker":
                    doc["spec"]["delivery"] = {**doc["spec"]["delivery"], **delivery}
            (target / source.name).write_text(yaml.safe_dump_all(documents))
        return target

    def database_url(self, service: str) -> str:
        if self.cluster is not None:
            return f"postgresql://postgres@127.0.0.1:{self.cluster.port}/{service}"
        return f"sqlite:///{self.data_dir / f'{service}.db'}"

    def start(self) -> None:
        arguments = ["--port", str(self.port), "--data-dir", str(self.data_dir)]
        for item in self.replicas:
            arguments += ["--replicas", item]
        self.starts += 1
        output = (self.data_dir / f"shop-up-{self.starts}.out").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtools", "up", *arguments],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # no terminal's Ctrl-C reaches it but ours
        )
        output.close()
        self.wait_ready()

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"shop up exited {self.process.returncode}:\n{self.log()}")
                try:
                    body = dict(zip(("username", "password"), ADMIN, strict=True))
                    if (
                        client.post("/auth/token", json=body).status_code == 200
                        and client.get("/products").status_code == 200
                    ):
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        raise TimeoutError(f"shop up not serving within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")[-4000:]
            for path in sorted(self.data_dir.glob("shop-up-*.out"))
        )

    def log_lines(self) -> int:
        """Lines every instance has logged so far (LOG_LEVEL=WARNING: warnings and errors)."""
        return sum(
            len(path.read_bytes().splitlines()) for path in (self.data_dir / "logs").glob("*.log")
        )

    def broker_backlog(self, upto: int | None = None) -> tuple[int, int]:
        """The broker's journal: (deliveries accepted and not yet done, dead letters parked),
        of those it accepted up to its delivery number `upto` (None: all)."""
        with contextlib.closing(sqlite3.connect(self._journal, timeout=10)) as journal:
            rows = journal.execute(
                "SELECT parked, count(*) FROM deliveries WHERE id <= ? GROUP BY parked",
                (upto if upto is not None else 2**62,),
            )
            counts = dict(rows.fetchall())
        return counts.get(0, 0), counts.get(1, 0)

    def broker_accepted(self) -> int:
        """The number of the last delivery the broker's journal accepted."""
        with contextlib.closing(sqlite3.connect(self._journal, timeout=10)) as journal:
            row = journal.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'deliveries'"
            ).fetchone()
        return int(row[0]) if row else 0

    @property
    def _journal(self) -> Path:
        return self.data_dir / "broker-journal.sqlite3"

    def shop(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """A `shop` command (e.g. `dlq replay`) run against this stack, as a person would."""
        env = {k: v for k, v in self.env.items() if k not in ELSEWHERE}
        return subprocess.run(
            [sys.executable, "-m", "devtools", *arguments, "--data-dir", str(self.data_dir)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def pids(self, service: str) -> list[int]:
        state = json.loads((self.data_dir / "shop-up.json").read_text())
        return [i["pid"] for i in state["instances"] if i["service"] == service and i["pid"]]

    def instance(self, service: str) -> tuple[int, str]:
        """The first instance of `service` in `shop up`'s state: (pid, url)."""
        state = json.loads((self.data_dir / "shop-up.json").read_text())
        found = next(i for i in state["instances"] if i["service"] == service)
        return int(found["pid"] or 0), str(found["url"])

    def wait_restarted(self, service: str, old: int, within: float) -> float | None:
        """Seconds until `service` runs again as a process other than `old` and answers
        /health, or None if it does not within `within` seconds."""
        began = time.monotonic()
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() - began < within:
                pid, url = self.instance(service)
                with contextlib.suppress(httpx.TransportError):
                    if pid not in {0, old} and client.get(f"{url}/health").status_code == 200:
                        return time.monotonic() - began
                time.sleep(0.1)
        return None

    def all_pids(self) -> list[int]:
        """`shop up` and every instance (each runs in its own session, so no one signal to a
        process group reaches them all)."""
        state = self.data_dir / "shop-up.json"
        instances = json.loads(state.read_text())["instances"] if state.exists() else []
        return [i["pid"] for i in instances if i["pid"]]

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 60.0) -> int:
        """Ctrl-C (or `sig`) to `shop up`; SIGKILL to it and to every instance at once, as
        when the machine dies."""
        process = self.process
        if process is None or process.poll() is not None:
            return process.returncode if process else 0
        if sig == signal.SIGKILL:
            for pid in [process.pid, *self.all_pids()]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        else:
            process.send_signal(sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.stop(signal.SIGKILL)

    def close(self) -> None:
        self.stop()
        for pid in self.all_pids():  # anything `shop up` left behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.redis.stop()
        if os.environ.get("SHOP_FAULTS_KEEP") != "1":  # keep the logs to read after a failure
            shutil.rmtree(self.data_dir, ignore_errors=True)
