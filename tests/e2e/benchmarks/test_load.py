"""`task load`: the Locust mix runs headless and bounded, and only against loopback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.processes import ROOT

pytestmark = pytest.mark.e2e


def load(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.load", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_short_load_run_against_its_own_shop_prints_a_summary_without_failures() -> None:
    run = load("--users", "4", "--spawn-rate", "4", "--duration", "6s", timeout=120)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Aggregated" in output
    for name in ("POST     /users", "POST     /auth/token", "GET      /products"):
        assert name in output, output


def test_a_load_run_refuses_any_host_but_loopback() -> None:
    run = load("--host", "http://192.0.2.1:8080", "--duration", "5s", timeout=60)
    assert run.returncode != 0
    assert "127.0.0.1 only" in run.stdout + run.stderr


def test_a_load_run_is_bounded_in_users_and_time() -> None:
    assert load("--users", "1000", timeout=30).returncode == 2
    assert load("--duration", "2h", timeout=30).returncode == 2
