"""A batch of reserves (orders sends the reserves of concurrent placements together): the lines
of one product are taken together when the shelf has them all, else one by one, so each order
gets exactly the answer it would get alone, in the batch's order."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from functions.products.catalog import CatalogService
from functions.products.migrations import MIGRATIONS
from functions.products.model import HELD, Line, Reservation
from functions.products.stock import OutOfStock, StockService
from shop.db.attach import open_database
from shop.db.migrations import migrate
from tests.support.databases import DIALECTS, database_url

pytestmark = pytest.mark.integration


class Shelf:
    def __init__(self, stock: StockService, catalog: CatalogService) -> None:
        self.stock = stock
        self.catalog = catalog

    async def product(self, units: int, name: str = "lamp") -> str:
        fields = {
            "sku": f"P-{uuid.uuid4().hex[:10]}",
            "name": name,
            "description": "",
            "category": "prop",
            "price_amount": 250,
            "price_currency": "EUR",
            "stock": units,
        }
        return (await self.catalog.create(fields)).id

    async def on_shelf(self, product_id: str) -> int:
        return int((await self.catalog.get(product_id)).stock)


@pytest.fixture(params=DIALECTS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path, "products") as found:
        yield found


@pytest.fixture
async def shelf(url: str) -> AsyncIterator[Shelf]:
    db = await open_database(url, pool_size=2)
    await migrate(db, MIGRATIONS)
    try:
        yield Shelf(StockService(db, ttl_seconds=60), CatalogService(db))
    finally:
        await db.close()


async def test_orders_of_one_product_that_all_fit_are_each_reserved_with_their_own_units(
    shelf: Shelf,
) -> None:
    lamp, desk = await shelf.product(10), await shelf.product(10, "desk")
    requests = [
        ("a", [Line(lamp, 2), Line(desk, 1)]),
        ("b", [Line(lamp, 3)]),
        ("c", [Line(lamp, 1)]),
    ]

    answers = await shelf.stock.reserve_all(requests)

    assert all(isinstance(answer, Reservation) for answer in answers)
    lines = {
        answer.order_id: [(x.product_id, x.quantity, x.name, x.price_amount) for x in answer.lines]
        for answer in answers
        if isinstance(answer, Reservation)
    }
    assert lines == {
        "a": sorted([(lamp, 2, "lamp", 250), (desk, 1, "desk", 250)]),
        "b": [(lamp, 3, "lamp", 250)],
        "c": [(lamp, 1, "lamp", 250)],
    }
    assert {answer.state for answer in answers if isinstance(answer, Reservation)} == {HELD}
    assert await shelf.on_shelf(lamp) == 4
    assert await shelf.on_shelf(desk) == 9
    for order_id, wanted in requests:  # as stored: a retry gets the same reservation back
        again = await shelf.stock.reserve(order_id, wanted)
        assert sorted((x.product_id, x.quantity) for x in again.lines) == sorted(
            (x.product_id, x.quantity) for x in wanted
        )


async def test_when_the_shelf_cannot_serve_them_all_orders_are_served_in_turn_as_if_alone(
    shelf: Shelf,
) -> None:
    lamp, desk = await shelf.product(5), await shelf.product(1, "desk")
    requests = [
        ("a", [Line(lamp, 2)]),
        ("b", [Line(desk, 1), Line(lamp, 4)]),  # its desk is taken, then given back
        ("c", [Line(lamp, 3)]),
        ("d", [Line(desk, 1)]),
    ]

    answers = await shelf.stock.reserve_all(requests)

    assert isinstance(answers[0], Reservation)
    assert isinstance(answers[1], OutOfStock)
    assert isinstance(answers[2], Reservation)
    assert isinstance(answers[3], Reservation)
    assert await shelf.on_shelf(lamp) == 0
    assert await shelf.on_shelf(desk) == 0
