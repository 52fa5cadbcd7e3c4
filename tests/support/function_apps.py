"""The four functions in the test's own event loop on one dialect: users, products, orders and
notifications on real ports, each with its own fresh database, one data directory (so they share
the local service token and users' signing key), a real SMTP sink and a recording broker."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar

from tests.support.databases import database_url
from tests.support.inprocess import serving
from tests.support.recorder import Recorder
from tests.support.smtp import SmtpSink

ADMIN = ("root", "root password for the tests")
PASSWORD = "a long enough password"
SERVICES = ("users", "products", "orders", "notifications")


@dataclass
class FunctionApps:
    dialect: str
    urls: dict[str, str]
    apps: dict[str, Litestar]
    databases: dict[str, str]
    smtp: SmtpSink
    http: httpx.AsyncClient
    tokens: dict[str, str] = field(default_factory=dict)

    async def call(
        self, service: str, method: str, path: str, token: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return await self.http.request(method, f"{self.urls[service]}{path}", headers=headers, **kw)

    async def login(self, username: str, password: str = PASSWORD) -> str:
        body = {"username": username, "password": password}
        response = await self.call("users", "POST", "/auth/token", json=body)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    async def customer(self) -> str:
        """A new customer's token."""
        name = f"c{uuid.uuid4().hex[:12]}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        response = await self.call("users", "POST", "/users", json=body)
        assert response.status_code == 201, response.text
        return await self.login(name)


def _app(service: str, env: dict[str, str]) -> Litestar:
    if service == "users":
        from functions.users.app import create_app as users
        from functions.users.settings import UsersSettings

        return users(UsersSettings.from_environ(env))
    if service == "products":
        from functions.products.app import create_app as products
        from functions.products.settings import ProductsSettings

        return products(ProductsSettings.from_environ(env))
    if service == "orders":
        from functions.orders.app import create_app as orders
        from functions.orders.settings import OrdersSettings

        return orders(OrdersSettings.from_environ(env))
    from functions.notifications.app import create_app as notifications
    from functions.notifications.settings import NotificationsSettings

    return notifications(NotificationsSettings.from_environ(env))


@contextlib.contextmanager
def function_databases(dialect: str, directory: Path) -> Iterator[dict[str, str]]:
    """A fresh database per function (made outside the event loop: PostgreSQL's are made with
    `asyncio.run`)."""
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(database_url(dialect, directory, name)) for name in SERVICES
        }


@contextlib.asynccontextmanager
async def function_apps(
    dialect: str, databases: dict[str, str], directory: Path
) -> AsyncIterator[FunctionApps]:
    urls: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        smtp = stack.enter_context(SmtpSink())
        broker = stack.enter_context(Recorder())
        env = {
            "BROKER_URL": broker.url,
            "SHOP_DATA_DIR": str(directory),
            "SMTP_URL": smtp.url,
            "SHOP_ADMIN_USERNAME": ADMIN[0],
            "SHOP_ADMIN_PASSWORD": ADMIN[1],
            "SHOP_DEMO_CATALOG": "0",
            "LOG_LEVEL": "CRITICAL",
        }
        apps: dict[str, Litestar] = {}
        for name in SERVICES:  # in order: each needs the URLs of the ones before it
            apps[name] = _app(name, {**env, "DATABASE_URL": databases[name]})
            urls[name] = await stack.enter_async_context(serving(apps[name]))
            if name == "users":
                env["USERS_URL"] = urls[name]
                env["JWKS_URL"] = f"{urls[name]}/.well-known/jwks.json"
            if name == "products":
                env["PRODUCTS_URL"] = urls[name]
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=30.0))
        yield FunctionApps(dialect, urls, apps, databases, smtp, http)


@contextlib.contextmanager
def function_apps_in_thread(dialect: str, directory: Path) -> Iterator[FunctionApps]:
    """`function_apps` on an event loop of its own thread, for synchronous tests (hypothesis):
    call the functions over HTTP at `urls`; the apps themselves belong to that loop."""
    started: queue.Queue[FunctionApps | BaseException] = queue.Queue()
    with function_databases(dialect, directory) as databases:
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()

        async def run() -> None:
            try:
                async with function_apps(dialect, databases, directory) as apps:
                    started.put(apps)
                    await stop.wait()
            except BaseException as exc:
                started.put(exc)
                raise

        thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
        thread.start()
        try:
            ready = started.get(timeout=60)
            if isinstance(ready, BaseException):
                raise ready
            yield ready
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(timeout=30)
            loop.close()
