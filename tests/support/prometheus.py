"""Debian's Prometheus and promtool for the tests: a real server on a loopback port with its own
configuration and storage, never the system's service."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import ROOT
from tests.support.services import free_port

RULES = ROOT / "otel" / "prometheus" / "alerts.yaml"
RULE_TESTS = ROOT / "otel" / "prometheus" / "alerts.test.yaml"
DASHBOARD = ROOT / "otel" / "prometheus" / "dashboard.json"
# Grafana's variables, as Grafana expands them before the query reaches Prometheus.
GRAFANA_VARIABLES = {"$service": ".*", "$__rate_interval": "1m", "$__range": "1h"}


def dashboard_expressions() -> list[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    found = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", ())]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found.append(re.sub(r"label_values\((\w+), \w+\)", r"\1", variable["definition"]))
    return found


def grafana_expanded(expression: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expression = expression.replace(variable, value)
    return expression


def require_binary(name: str) -> str:
    """The binary's path, or a skip with the reason (a failure in CI, which installs it)."""
    found = shutil.which(name)
    if found is not None:
        return found
    message = f"{name} is not on PATH: `apt-get install -y prometheus` (Debian) to run this test"
    if os.environ.get("CI") or os.environ.get("SHOP_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


def promtool(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("promtool"), *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Prometheus:
    """`prometheus` scraping `targets` (job -> host:port list) every second, with `rule_files`."""

    def __init__(self, targets: dict[str, list[str]], rule_files: tuple[Path, ...] = ()) -> None:
        binary = require_binary("prometheus")
        self.directory = Path(tempfile.mkdtemp(prefix="shop-prometheus-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": hosts}]}
                for job, hosts in sorted(targets.items())
            ],
        }
        config_file = self.directory / "prometheus.yml"
        config_file.write_text(json.dumps(config, indent=2))  # JSON is YAML
        self.log_path = self.directory / "prometheus.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=debug",  # 2.x logs a bad scrape Content-Type at debug level only
                "--log.format=logfmt",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.http = httpx.Client(base_url=self.url, timeout=5.0)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited {self.process.returncode}:\n{self.log()}")
            try:
                if self.http.get("/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"prometheus not ready within {timeout}s:\n{self.log()}")

    def targets(self) -> list[dict[str, Any]]:
        response = self.http.get("/api/v1/targets", params={"state": "active"})
        response.raise_for_status()
        active: list[dict[str, Any]] = response.json()["data"]["activeTargets"]
        return active

    def wait_scraped(self, targets: int, times: int = 3, timeout: float = 60.0) -> None:
        """Until each of `targets` targets was scraped `times` times (whatever the outcome)."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.query("count_over_time(up[1m])")
            if len(counts) >= targets and all(float(s["value"][1]) >= times for s in counts):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"scrapes after {timeout}s: {counts}\n{self.targets()}")
            time.sleep(0.2)

    def query(self, expression: str) -> list[dict[str, Any]]:
        """The instant vector `expression` evaluates to; AssertionError with Prometheus's error."""
        response = self.http.get("/api/v1/query", params={"query": expression})
        body = response.json()
        assert body["status"] == "success", f"{expression!r}: {body.get('error')}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()
        shutil.rmtree(self.directory, ignore_errors=True)
