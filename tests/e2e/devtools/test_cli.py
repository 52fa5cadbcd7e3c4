"""The `shop` console commands as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from devtools.served import Served
from tests.support.processes import ROOT

pytestmark = pytest.mark.e2e


def shop(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devtools", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_shop_registry_prints_the_instances_as_json(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    served = Served("notifications", {"REDIS_URL": redis_url})
    try:
        served.wait_ready()
        for _ in range(100):
            listing = json.loads(shop("registry", "--redis-url", redis_url).stdout)
            if listing.get("notifications"):
                break
        entry = listing["notifications"][0]
        assert {"instance_id", "service", "address", "healthy", "last_seen"} <= entry.keys()
        assert entry["address"] == served.url
        assert entry["healthy"] is True
    finally:
        served.stop()
        client.flushdb()
        client.close()


def test_shop_registry_says_so_when_redis_is_unreachable() -> None:
    result = shop("registry", "--redis-url", "redis://127.0.0.1:1/0")
    assert result.returncode == 1
    assert "cannot reach Redis" in result.stderr


def test_shop_registry_never_prints_the_password_of_an_unreachable_redis() -> None:
    result = shop("registry", "--redis-url", "redis://:s3cret-pass@127.0.0.1:1/0")
    assert result.returncode == 1
    assert "cannot reach Redis at redis://:***@127.0.0.1:1/0" in result.stderr
    assert "s3cret-pass" not in result.stderr


def test_shop_serve_refuses_an_unknown_service() -> None:
    result = shop("serve", "warehouse")
    assert result.returncode == 2
    assert "unknown service 'warehouse'" in result.stderr


def test_shop_registry_and_dlq_look_only_in_the_data_dir_they_are_given(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "NOTIFICATIONS_URL"}}
    registry = shop("registry", "--data-dir", str(tmp_path), env=env)
    assert registry.returncode == 1
    assert f"no `shop up` runs in {tmp_path}" in registry.stderr
    dlq = shop("dlq", "list", "--data-dir", str(tmp_path), env=env)
    assert dlq.returncode == 1
    assert "where is notifications?" in dlq.stderr
