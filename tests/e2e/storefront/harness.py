"""The storefront tests' world: the real system as `shop up`, an API client, Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import ROOT
from tests.support.services import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
]
ADMIN = ("admin", "storefront-admin-password")
PASSWORD = "correct horse battery staple"
ARTIFACTS = ROOT / "test-artifacts" / "storefront"


def require_chromium() -> Path:
    """Debian's Chromium, or a skip with the reason (a failure in CI, which must install it)."""
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"{CHROMIUM} is missing: `apt-get install -y chromium` to run the browser tests"
    if os.environ.get("CI") or os.environ.get("SHOP_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


class LocalShop:
    """`shop up` on a free port, on the test Redis and a fresh data directory."""

    def __init__(self, redis_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="shop-storefront-"))
        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "SHOP_DATA_DIR": str(self.data_dir),
            "SHOP_ADMIN_USERNAME": ADMIN[0],
            "SHOP_ADMIN_PASSWORD": ADMIN[1],
            "RATE_LIMIT_AUTH_PER_MINUTE": "600",  # every test logs in from the same address
            "RATE_LIMIT_AUTH_BURST": "50",
            "LOG_LEVEL": "WARNING",
        }
        self.output = (self.data_dir / "shop-up.out").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtools", "up", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"shop up exited {self.process.returncode}:\n{self.log()}")
                try:
                    token = client.post(
                        "/auth/token", json=dict(zip(("username", "password"), ADMIN, strict=True))
                    )
                    if token.status_code == 200 and client.get("/products").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise TimeoutError(f"shop up not serving within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return (self.data_dir / "shop-up.out").read_text(errors="replace")

    def keep_logs(self, name: str) -> None:
        """Copy every instance's log next to the failed test's screenshot."""
        target = ARTIFACTS / name
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.data_dir / "shop-up.out", target / "shop-up.log")
        logs = self.data_dir / "logs"
        if logs.is_dir():
            shutil.copytree(logs, target / "logs", dirs_exist_ok=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.output.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class Api:
    """The public API through the gateway, for arranging and checking what the browser did."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10.0)

    def close(self) -> None:
        self.http.close()

    def token(self, username: str, password: str = PASSWORD) -> str:
        response = self.http.post("/auth/token", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def customer(self) -> str:
        """A new customer's username (password PASSWORD)."""
        name = f"shopper_{uuid.uuid4().hex[:10]}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        response = self.http.post("/users", json=body)
        assert response.status_code == 201, response.text
        return name

    def product(self, *, stock: int, amount: int = 1250) -> dict[str, Any]:
        sku = f"SF-{uuid.uuid4().hex[:10].upper()}"
        body = {
            "sku": sku,
            "name": f"Storefront Kettle {sku}",
            "description": "Boils water for browser tests.",
            "category": "kitchen",
            "price": {"amount": amount, "currency": "EUR"},
            "stock": stock,
        }
        response = self.http.post("/products", json=body, headers=self.auth(self.token(*ADMIN)))
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def stock(self, product_id: str) -> int:
        units: int = self.http.get(f"/products/{product_id}").json()["stock"]
        return units

    def orders(self, username: str) -> list[dict[str, Any]]:
        response = self.http.get("/orders", headers=self.auth(self.token(username)))
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}
