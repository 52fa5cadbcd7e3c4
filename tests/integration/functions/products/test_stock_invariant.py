"""Property: whatever sequence of reserve (alone or in batches), confirm, release, return and
expire runs, for every product, stock on the shelf + units held + units sold = stock ever
added, and never below 0; and a reservation holds all its order's lines or none."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from functions.products.catalog import CatalogService
from functions.products.migrations import MIGRATIONS
from functions.products.model import Line
from functions.products.stock import StockService
from shop.db import Database
from shop.db.attach import open_database
from shop.db.migrations import migrate
from shop.runtime.errors import ShopError
from tests.support.databases import DIALECTS, database_url

pytestmark = [pytest.mark.integration, pytest.mark.collect_garbage]
TTL_US = 60_000_000


@pytest.fixture(params=DIALECTS)
def world(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[asyncio.AbstractEventLoop, Database]]:
    # The loop is made only once the database is there (a skip for an unreachable PostgreSQL
    # leaves no loop behind), and the Runner closes it whatever fails after.
    with database_url(request.param, tmp_path, "products") as url, asyncio.Runner() as runner:
        db = runner.run(open_database(url, pool_size=2))
        try:
            runner.run(migrate(db, MIGRATIONS))
            yield runner.get_loop(), db
        finally:
            runner.run(db.close())


def test_stock_is_never_oversold_and_never_leaks(
    world: tuple[asyncio.AbstractEventLoop, Database],
) -> None:
    loop, db = world

    class Ledger(RuleBasedStateMachine):
        orders = Bundle("orders")

        def __init__(self) -> None:
            super().__init__()
            self.now = 1_000_000_000_000
            self.stock = StockService(db, ttl_seconds=TTL_US / 1e6, clock=lambda: self.now)
            self.catalog = CatalogService(db, clock=lambda: self.now)
            self.added: dict[str, int] = {}

        def run(self, coroutine: Any) -> Any:
            return loop.run_until_complete(coroutine)

        @initialize(units=st.lists(st.integers(0, 8), min_size=1, max_size=3))
        def shelve(self, units: list[int]) -> None:
            for count in units:
                sku = f"P-{uuid.uuid4().hex[:10]}"
                fields = {
                    "sku": sku,
                    "name": sku,
                    "description": "",
                    "category": "prop",
                    "price_amount": 100,
                    "price_currency": "EUR",
                    "stock": count,
                }
                product = self.run(self.catalog.create(fields))
                self.added[product.id] = count

        @rule(
            target=orders,
            picks=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 5)), min_size=1, max_size=3),
        )
        def reserve(self, picks: list[tuple[int, int]]) -> str:
            ids = list(self.added)
            lines = {ids[i % len(ids)]: q for i, q in picks}
            order_id = uuid.uuid4().hex
            with contextlib.suppress(ShopError):  # short: the invariant checks nothing moved
                self.run(self.stock.reserve(order_id, [Line(p, q) for p, q in lines.items()]))
            return order_id

        @rule(order_id=orders, step=st.sampled_from(["confirm", "release", "give_back"]))
        def advance(self, order_id: str, step: str) -> None:
            with contextlib.suppress(ShopError):
                self.run(getattr(self.stock, step)(order_id))

        @rule(
            target=orders,
            batch=st.lists(
                st.lists(st.tuples(st.integers(0, 2), st.integers(1, 5)), min_size=1, max_size=3),
                min_size=1,
                max_size=4,
            ),
            again=st.lists(orders, max_size=2),
        )
        def reserve_together(self, batch: list[list[tuple[int, int]]], again: list[str]) -> Any:
            """Orders' batch of concurrent placements' reserves, retried ones among them."""
            ids = list(self.added)
            requests = [
                (uuid.uuid4().hex, [Line(ids[i % len(ids)], q) for i, q in dict(picks).items()])
                for picks in batch
            ]
            for order_id in again:
                requests.append((order_id, [Line(p, q) for p, q in self.run(db_lines(order_id))]))
            answers = self.run(self.stock.reserve_all(requests))
            for (order_id, lines), answer in zip(requests, answers, strict=True):
                kept = sorted(self.run(db_lines(order_id)))
                if isinstance(answer, ShopError):
                    assert order_id in again or kept == []
                else:
                    wanted = sorted((line.product_id, line.quantity) for line in lines)
                    assert (
                        kept == wanted == sorted((x.product_id, x.quantity) for x in answer.lines)
                    )
            return multiple(*(order_id for order_id, _ in requests[: len(batch)]))

        @rule(order_ids=st.lists(orders, min_size=1, max_size=4))
        def confirm_together(self, order_ids: list[str]) -> None:
            """Orders confirms the reservations of concurrent placements in one batch."""
            self.run(self.stock.confirm_all(order_ids))

        @rule(order_id=orders)
        def reserve_again(self, order_id: str) -> None:
            """A retried reserve (same order id) must not take stock twice."""
            found = self.run(db_lines(order_id))
            if found:
                with contextlib.suppress(ShopError):
                    self.run(self.stock.reserve(order_id, [Line(p, q) for p, q in found]))

        @rule(seconds=st.integers(0, 120))
        def time_passes(self, seconds: int) -> None:
            self.now += seconds * 1_000_000
            self.run(self.stock.expire_due())

        @invariant()
        def units_are_conserved(self) -> None:
            if not self.added:
                return
            for product_id, added in self.added.items():
                shelf, held, sold = self.run(counts(product_id))
                assert shelf >= 0
                assert shelf + held + sold == added, (shelf, held, sold, added)

    async def db_lines(order_id: str) -> list[tuple[str, int]]:
        async with db.transaction(readonly=True) as tx:
            rows = await tx.fetch(
                "SELECT product_id, quantity FROM reservation_lines WHERE order_id = $1", order_id
            )
        return [(r["product_id"], r["quantity"]) for r in rows]

    async def counts(product_id: str) -> tuple[int, int, int]:
        async with db.transaction(readonly=True) as tx:
            shelf = await tx.fetchval("SELECT stock FROM products WHERE id = $1", product_id)
            rows = await tx.fetch(
                "SELECT r.state, l.quantity FROM reservation_lines l"
                " JOIN reservations r ON r.order_id = l.order_id WHERE l.product_id = $1",
                product_id,
            )
        held = sum(r["quantity"] for r in rows if r["state"] == "held")
        sold = sum(r["quantity"] for r in rows if r["state"] == "confirmed")
        return int(shelf), held, sold

    run_state_machine_as_test(
        Ledger,
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
