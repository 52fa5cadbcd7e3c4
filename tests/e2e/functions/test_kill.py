"""The orders process is killed (SIGKILL) while orders are in flight, then started again: every
order is either wholly placed or not at all, and no unit of stock is lost or sold twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from devtools.function_stack import FunctionStack, ShopApi
from tests.support.databases import DIALECTS, admin_url_for

pytestmark = pytest.mark.e2e
TTL = 2.0
STOCK = 1000


@pytest.fixture(scope="module", params=DIALECTS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FunctionStack]:
    started = FunctionStack(
        request.param,
        postgres=admin_url_for(request.param),
        directory=tmp_path_factory.mktemp("kill"),
        RESERVATION_TTL_SECONDS=str(TTL),
        RESERVATION_SWEEP_SECONDS="0.1",
        ORDERS_PENDING_GRACE_SECONDS="0.5",
        ORDERS_SWEEP_SECONDS="0.2",
    )
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
async def api(stack: FunctionStack) -> AsyncIterator[ShopApi]:
    async with httpx.AsyncClient(timeout=30.0) as http:
        yield ShopApi(stack, http)


async def sold(api: ShopApi, token: str) -> int:
    """Units in the customer's confirmed orders, every page of them."""
    units, cursor = 0, None
    while True:
        query = "/orders?limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = (await api.call("orders", "GET", query, token)).json()
        units += sum(
            int(item["quantity"])
            for order in page["items"]
            if order["status"] == "confirmed"
            for item in order["items"]
        )
        cursor = page["next_cursor"]
        if cursor is None:
            return units


async def test_killing_orders_mid_flight_loses_and_oversells_nothing(
    api: ShopApi, stack: FunctionStack
) -> None:
    product = await api.product(await api.admin(), stock=STOCK)
    _, token = await api.customer()

    outcomes: list[int] = []
    stop = asyncio.Event()

    async def shopper(n: int) -> None:
        while not stop.is_set():
            try:
                response = await api.order(token, [(product["id"], 1 + n % 3)])
                outcomes.append(response.status_code)
            except httpx.TransportError:
                outcomes.append(0)  # killed under this request, or not back yet

    shoppers = [asyncio.create_task(shopper(n)) for n in range(8)]
    await asyncio.sleep(0.5)
    await asyncio.to_thread(stack.kill_and_restart, "orders")
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.gather(*shoppers)
    assert 0 in outcomes
    assert 201 in outcomes

    deadline = asyncio.get_running_loop().time() + TTL * 10
    while True:
        shelf, confirmed = await api.stock(product["id"]), await sold(api, token)
        if shelf + confirmed == STOCK or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert shelf + confirmed == STOCK, (shelf, confirmed)
    assert confirmed >= sum(1 for code in outcomes if code == 201)
    after = await api.order(token, [(product["id"], 1)])
    assert after.status_code == 201
