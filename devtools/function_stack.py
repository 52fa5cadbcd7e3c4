"""The three shop functions as real `shop serve` processes on one database dialect, and an
API client that speaks to them the way the gateway would."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from devtools.databases import throwaway_database
from devtools.embedded_redis import free_port
from devtools.served import Served
from functions.users.keys import LOCAL_KEY_FILE, SigningKeys, split_pems

ADMIN = ("admin", "admin-password-for-tests")
PASSWORD = "correct horse battery"  # noqa: S105 - a test customer's


class FunctionStack:
    """users, products and orders on `dialect`, each with its own fresh database (on the
    PostgreSQL server whose admin URL is `postgres`, for that dialect)."""

    def __init__(
        self,
        dialect: str,
        directory: Path,
        services: tuple[str, ...] = ("users", "products", "orders"),
        postgres: str = "",
        **env: str,
    ) -> None:
        self.dialect = dialect
        self.directory = directory
        self._exit = ExitStack()
        ports = {name: free_port() for name in ("users", "products", "orders")}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        common = {
            "SHOP_DATA_DIR": str(directory),
            "USERS_URL": self.urls["users"],
            "PRODUCTS_URL": self.urls["products"],
            "SHOP_ADMIN_USERNAME": ADMIN[0],
            "SHOP_ADMIN_PASSWORD": ADMIN[1],
            "SHOP_DEMO_CATALOG": "0",
            "LOG_LEVEL": "WARNING",
            "SHUTDOWN_GRACE_SECONDS": "1",
            "DB_POOL_SIZE": "10",
            # Every caller here is 127.0.0.1: a per-client cap would count them all as one.
            "PASSWORD_HASHES_PER_CLIENT": "64",
            **env,
        }
        self.processes: dict[str, Served] = {}
        self.envs: dict[str, dict[str, str]] = {}
        try:
            for name in services:
                url = self._exit.enter_context(
                    throwaway_database(dialect, directory, name, postgres)
                )
                self.envs[name] = {**common, "DATABASE_URL": url}
                self._start(name)
            for served in self.processes.values():
                served.wait_ready(30)
        except BaseException:
            self._exit.close()
            raise

    def _start(self, name: str) -> Served:
        port = int(self.urls[name].rsplit(":", 1)[1])
        served = Served(name, self.envs[name], port=port)
        self._exit.callback(served.stop)
        self.processes[name] = served
        return served

    def kill_and_restart(self, name: str) -> None:
        """SIGKILL the service (no shutdown of any kind), then start it again on its port."""
        self.processes[name].stop()
        self._start(name).wait_ready(30)

    def close(self) -> None:
        self._exit.close()

    def signing_keys(self) -> SigningKeys:
        """The users function's own key (local mode keeps it in the data directory)."""
        return SigningKeys(split_pems((self.directory / LOCAL_KEY_FILE).read_bytes()))


class ShopApi:
    """Calls the functions directly, as the gateway would route them."""

    def __init__(self, stack: FunctionStack, http: httpx.AsyncClient) -> None:
        self.urls = stack.urls
        self.http = http

    async def call(
        self, service: str, method: str, path: str, token: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return await self.http.request(method, f"{self.urls[service]}{path}", headers=headers, **kw)

    async def login(self, username: str, password: str = PASSWORD) -> str:
        response = await self.call(
            "users", "POST", "/auth/token", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    async def customer(self) -> tuple[str, str]:
        """A new customer: (user id, token)."""
        name = f"c{uuid.uuid4().hex[:12]}"
        response = await self.call(
            "users",
            "POST",
            "/users",
            json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
        )
        assert response.status_code == 201, response.text
        return response.json()["id"], await self.login(name)

    async def admin(self) -> str:
        return await self.login(*ADMIN)

    async def product(self, admin: str, *, stock: int, amount: int = 1000) -> dict[str, Any]:
        sku = f"SKU-{uuid.uuid4().hex[:10]}"
        body = {
            "sku": sku,
            "name": f"Thing {sku}",
            "description": "A thing for tests.",
            "category": "tests",
            "price": {"amount": amount, "currency": "EUR"},
            "stock": stock,
        }
        response = await self.call("products", "POST", "/products", admin, json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def stock(self, product_id: str) -> int:
        response = await self.call("products", "GET", f"/products/{product_id}")
        assert response.status_code == 200, response.text
        units: int = response.json()["stock"]
        return units

    async def order(
        self, token: str, items: list[tuple[str, int]], key: str | None = None
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        body = {"items": [{"product_id": p, "quantity": q} for p, q in items]}
        return await self.call("orders", "POST", "/orders", token, json=body, headers=headers)

    async def wait_for_stock(self, product_id: str, units: int, within: float) -> int:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            found = await self.stock(product_id)
            if found == units or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.1)
