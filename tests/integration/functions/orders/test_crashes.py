"""Crashes between the steps of placing an order, injected through the fault hook (a
BaseException, so no compensation runs, as when the process dies). Products and users are real
processes; what the crash leaves behind must settle by itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from devtools.function_stack import FunctionStack, ShopApi
from functions.orders.app import create_app
from functions.orders.settings import OrdersSettings
from tests.support.databases import DIALECTS, admin_url_for, database_url
from tests.support.inprocess import serving
from tests.support.services import free_port

pytestmark = pytest.mark.integration
TTL = 2.0


class Crash(BaseException):
    """The process dies here."""


@pytest.fixture(scope="module", params=DIALECTS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FunctionStack]:
    started = FunctionStack(
        request.param,
        postgres=admin_url_for(request.param),
        directory=tmp_path_factory.mktemp("crash"),
        services=("users", "products"),
        RESERVATION_TTL_SECONDS=str(TTL),
        RESERVATION_SWEEP_SECONDS="0.1",
    )
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
async def api(stack: FunctionStack) -> AsyncIterator[ShopApi]:
    async with httpx.AsyncClient(timeout=30.0) as http:
        yield ShopApi(stack, http)


@pytest.fixture
def orders_url(stack: FunctionStack, tmp_path: Path) -> Iterator[str]:
    with database_url(stack.dialect, tmp_path, "orders") as url:
        yield url


def settings(stack: FunctionStack, url: str, **env: str) -> OrdersSettings:
    return OrdersSettings.from_environ(
        {
            "DATABASE_URL": url,
            "USERS_URL": stack.urls["users"],
            "PRODUCTS_URL": stack.urls["products"],
            "SHOP_DATA_DIR": str(stack.directory),  # the stack's own service token
            "ORDERS_PENDING_GRACE_SECONDS": "0.3",
            "ORDERS_SWEEP_SECONDS": "0.1",
            **env,
        }
    )


def crash_at(step: str) -> Callable[[str], Awaitable[None]]:
    armed = [True]

    async def fault(reached: str) -> None:
        if reached == step and armed and armed.pop():  # once: the restarted process runs clean
            raise Crash(step)

    return fault


async def place(
    client: httpx.AsyncClient, token: str, product_id: str, units: int
) -> httpx.Response:
    return await client.post(
        "/orders",
        json={"items": [{"product_id": product_id, "quantity": units}]},
        headers={"Authorization": f"Bearer {token}"},
    )


async def listed(client: httpx.AsyncClient, token: str) -> list[str]:
    response = await client.get("/orders", headers={"Authorization": f"Bearer {token}"})
    return [order["id"] for order in response.json()["items"]]


async def test_a_crash_between_reserve_and_persist_frees_the_stock_within_the_expiry(
    api: ShopApi, stack: FunctionStack, orders_url: str
) -> None:
    product = await api.product(await api.admin(), stock=10)
    _, token = await api.customer()
    app = create_app(settings(stack, orders_url), fault=crash_at("reserved"))
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        # the request "dies" mid-way: uvicorn answers a bare 500, nothing compensates
        assert (await place(client, token, product["id"], 4)).status_code == 500
        assert await api.stock(product["id"]) == 6  # held by the orphaned reservation
        assert await listed(client, token) == []
        assert await api.wait_for_stock(product["id"], 10, within=TTL * 5) == 10
        assert (await place(client, token, product["id"], 10)).status_code == 201


async def test_a_crash_between_persist_and_confirm_is_undone_by_recovery(
    api: ShopApi, stack: FunctionStack, orders_url: str
) -> None:
    product = await api.product(await api.admin(), stock=10)
    _, token = await api.customer()
    app = create_app(settings(stack, orders_url), fault=crash_at("persisted"))
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        assert (await place(client, token, product["id"], 3)).status_code == 500
        assert await api.wait_for_stock(product["id"], 10, within=TTL * 5) == 10
        assert await listed(client, token) == []


async def test_a_crash_after_confirm_is_finished_by_recovery_with_its_event(
    api: ShopApi, stack: FunctionStack, orders_url: str
) -> None:
    product = await api.product(await api.admin(), stock=10)
    _, token = await api.customer()
    app = create_app(settings(stack, orders_url), fault=crash_at("confirmed"))
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        assert (await place(client, token, product["id"], 3)).status_code == 500
        for _ in range(100):
            if await listed(client, token):
                break
            await asyncio.sleep(0.1)
        [order_id] = await listed(client, token)
        assert await api.stock(product["id"]) == 7
    events = await outbox_rows(orders_url)
    assert events == [("shop.order.confirmed.v1", order_id)]


async def test_a_crash_after_the_cancel_commits_gets_the_stock_back_by_recovery_once(
    api: ShopApi, stack: FunctionStack, orders_url: str
) -> None:
    product = await api.product(await api.admin(), stock=10)
    _, token = await api.customer()
    app = create_app(settings(stack, orders_url), fault=crash_at("cancelled"))
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        placed = await place(client, token, product["id"], 3)
        assert placed.status_code == 201
        order_id = placed.json()["id"]
        auth = {"Authorization": f"Bearer {token}"}
        # the cancel's transaction committed, then the process "died" before products heard
        assert (await client.post(f"/orders/{order_id}/cancel", headers=auth)).status_code == 500
        shown = await client.get(f"/orders/{order_id}", headers=auth)
        assert shown.json()["status"] == "cancelled"
        assert await api.wait_for_stock(product["id"], 10, within=TTL * 5) == 10
        again = await client.post(f"/orders/{order_id}/cancel", headers=auth)
        assert again.status_code == 409
        await asyncio.sleep(0.5)  # a few more recovery sweeps: the units come back only once
        assert await api.stock(product["id"]) == 10
    events = await outbox_rows(orders_url)
    assert events == [
        ("shop.order.confirmed.v1", order_id),
        ("shop.order.cancelled.v1", order_id),
    ]


async def test_an_unreachable_products_service_is_a_fast_503_and_no_order(
    api: ShopApi, stack: FunctionStack, orders_url: str
) -> None:
    _, token = await api.customer()
    nowhere = f"http://127.0.0.1:{free_port()}"
    app = create_app(settings(stack, orders_url, PRODUCTS_URL=nowhere))
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await place(client, token, "any-product", 1)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert await listed(client, token) == []


async def outbox_rows(url: str) -> list[tuple[str, str]]:
    from shop.db.attach import open_database

    db = await open_database(url)
    try:
        async with db.transaction(readonly=True) as tx:
            rows = await tx.fetch("SELECT type, subject FROM outbox ORDER BY created_at")
    finally:
        await db.close()
    return [(row["type"], row["subject"]) for row in rows]


async def place_with_key(
    client: httpx.AsyncClient, token: str, product_id: str, units: int, key: str
) -> httpx.Response:
    return await client.post(
        "/orders",
        json={"items": [{"product_id": product_id, "quantity": units}]},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )


async def retry_as_told(
    client: httpx.AsyncClient, token: str, product_id: str, units: int, key: str
) -> tuple[httpx.Response, list[int], int]:
    """A client that retries with its key, waiting what each Retry-After says: the last answer,
    every status seen, and the seconds it was told to wait in all."""
    seen: list[int] = []
    told = 0
    for _ in range(10):
        response = await place_with_key(client, token, product_id, units, key)
        seen.append(response.status_code)
        if response.status_code not in {409, 503}:
            return response, seen, told
        assert response.headers["content-type"].startswith("application/problem+json")
        wait = int(response.headers["retry-after"])  # a KeyError here: no Retry-After
        told += wait
        await asyncio.sleep(wait)
    return response, seen, told


# No recovery sweep in these: only the next request with the key can free it.
NO_SWEEP = {"ORDERS_PENDING_GRACE_SECONDS": "300", "ORDERS_SWEEP_SECONDS": "300"}


@pytest.mark.parametrize("step", ["reserved", "persisted"])
async def test_a_key_whose_request_crashed_is_placed_by_the_retry_within_the_claim_lease(
    api: ShopApi, stack: FunctionStack, orders_url: str, step: str
) -> None:
    product = await api.product(await api.admin(), stock=10)
    _, token = await api.customer()
    app = create_app(settings(stack, orders_url, **NO_SWEEP), fault=crash_at(step))
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        assert (await place_with_key(client, token, product["id"], 4, "k-crash")).status_code == 500
        placed, seen, told = await retry_as_told(client, token, product["id"], 4, "k-crash")
        assert placed.status_code == 201, (seen, placed.text)
        assert set(seen[:-1]) <= {409}
        assert told <= 4  # the claim lease (3 s), not the old 30 s
        assert await listed(client, token) == [placed.json()["id"]]
        again = await place_with_key(client, token, product["id"], 4, "k-crash")
        assert again.json()["id"] == placed.json()["id"]
    assert await api.wait_for_stock(product["id"], 6, within=TTL * 5) == 6


async def test_a_key_answered_503_because_products_was_down_succeeds_once_products_is_back(
    api: ShopApi, stack: FunctionStack, orders_url: str
) -> None:
    product = await api.product(await api.admin(), stock=10)
    _, token = await api.customer()

    armed = [True]

    async def products_dies(step: str) -> None:  # once, between persist and confirm
        if step == "persisted" and armed and armed.pop():
            await asyncio.to_thread(stack.processes["products"].stop)

    app = create_app(settings(stack, orders_url, **NO_SWEEP), fault=products_dies)
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        try:
            failed = await place_with_key(client, token, product["id"], 3, "k-503")
            assert failed.status_code == 503, failed.text  # confirm failed, outcome unknown
            assert int(failed.headers["retry-after"]) >= 1
            down = await place_with_key(client, token, product["id"], 3, "k-503")
            assert down.status_code == 503, down.text  # truthful: products still cannot say
            assert int(down.headers["retry-after"]) >= 1
        finally:
            await asyncio.to_thread(stack.kill_and_restart, "products")
        placed, seen, told = await retry_as_told(client, token, product["id"], 3, "k-503")
        assert placed.status_code == 201, (seen, placed.text)
        assert told <= 4
        assert await listed(client, token) == [placed.json()["id"]]
    assert await api.wait_for_stock(product["id"], 7, within=TTL * 5) == 7
