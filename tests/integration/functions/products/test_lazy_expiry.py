"""Holds expire with no sweeper and no ping: products may have been at zero since the hold was
taken, so a hold past its time reads as expired, cannot be confirmed, and its units serve the
next reservation that needs them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from functions.products.catalog import CatalogService
from functions.products.migrations import MIGRATIONS
from functions.products.model import CONFIRMED, EXPIRED, HELD, Line
from functions.products.stock import OutOfStock, StockService
from shop.db import Database
from shop.db.attach import open_database
from shop.db.migrations import migrate
from shop.runtime.errors import Conflict
from tests.support.databases import DIALECTS, database_url

pytestmark = pytest.mark.integration
TTL_SECONDS = 60.0
T = TypeVar("T")
AFTER_TTL_US = int(TTL_SECONDS * 1_000_000) + 1


class Shelf:
    """A products ledger with one product of 3 units, on a clock the test moves by hand."""

    def __init__(self, loop: asyncio.AbstractEventLoop, db: Database) -> None:
        self.loop = loop
        self.now = 1_700_000_000_000_000
        self.stock = StockService(db, ttl_seconds=TTL_SECONDS, clock=lambda: self.now)
        catalog = CatalogService(db, clock=lambda: self.now)
        fields = {
            "sku": f"P-{uuid.uuid4().hex[:10]}",
            "name": "lamp",
            "description": "",
            "category": "prop",
            "price_amount": 100,
            "price_currency": "EUR",
            "stock": 3,
        }
        self.product = self.run(catalog.create(fields)).id
        self.catalog = catalog

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def hold(self, quantity: int) -> str:
        order_id = uuid.uuid4().hex
        self.run(self.stock.reserve(order_id, [Line(self.product, quantity)]))
        return order_id

    def on_shelf(self) -> int:
        return int(self.run(self.catalog.get(self.product)).stock)


@pytest.fixture(params=DIALECTS)
def shelf(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shelf]:
    loop = asyncio.new_event_loop()
    with database_url(request.param, tmp_path, "products") as url:
        db = loop.run_until_complete(open_database(url, pool_size=2))
        loop.run_until_complete(migrate(db, MIGRATIONS))
        try:
            yield Shelf(loop, db)
        finally:
            loop.run_until_complete(db.close())
            loop.close()


def test_a_hold_past_its_time_reads_as_expired_without_any_sweep(shelf: Shelf) -> None:
    order = shelf.hold(2)
    assert shelf.run(shelf.stock.get(order)).state == HELD
    shelf.now += AFTER_TTL_US
    assert shelf.run(shelf.stock.get(order)).state == EXPIRED


def test_the_next_reservation_gets_the_units_of_an_expired_hold(shelf: Shelf) -> None:
    stale = shelf.hold(3)
    with pytest.raises(OutOfStock):
        shelf.hold(1)  # within the hold's time the units are taken
    shelf.now += AFTER_TTL_US
    fresh = shelf.hold(3)  # no sweeper ran: the reservation itself gave the units back
    assert shelf.run(shelf.stock.get(fresh)).state == HELD
    assert shelf.run(shelf.stock.get(stale)).state == EXPIRED
    assert shelf.on_shelf() == 0


def test_an_expired_hold_is_never_confirmed_and_its_units_return(shelf: Shelf) -> None:
    single, batched = shelf.hold(1), shelf.hold(2)
    shelf.now += AFTER_TTL_US
    with pytest.raises(Conflict):
        shelf.run(shelf.stock.confirm(single))
    assert shelf.run(shelf.stock.confirm_all([batched])) == {batched: EXPIRED}
    assert shelf.on_shelf() == 3


def test_a_hold_within_its_time_is_confirmed_as_before(shelf: Shelf) -> None:
    order = shelf.hold(1)
    shelf.now += AFTER_TTL_US - 2
    assert shelf.run(shelf.stock.confirm_all([order])) == {order: CONFIRMED}
    assert shelf.on_shelf() == 2
