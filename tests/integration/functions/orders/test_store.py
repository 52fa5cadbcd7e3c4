"""The orders tables written in groups (concurrent placements share their transactions), on
both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import pytest

from functions.orders import idempotency, store
from functions.orders.migrations import MIGRATIONS
from functions.orders.model import CONFIRMED, PENDING, Order, OrderLine
from functions.orders.service import OrderService
from functions.orders.stock import ProductsStock
from shop.db import Database
from tests.support.databases import DIALECTS, database_url, migrated

pytestmark = pytest.mark.integration


@pytest.fixture(params=DIALECTS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path, "orders") as found:
        yield found


@pytest.fixture
async def db(url: str) -> AsyncIterator[Database]:
    async with migrated(url, MIGRATIONS) as database:
        yield database


def order(order_id: str, *units: int) -> Order:
    lines = [OrderLine(f"p-{n}", f"Thing {n}", 250 * n, "EUR", q) for n, q in enumerate(units, 1)]
    return Order.place(order_id, "u-1", "u-1@example.com", lines, 1_000 + len(order_id))


async def test_pending_orders_written_together_read_back_each_with_its_lines(
    db: Database,
) -> None:
    placed = [order("o-1", 2), order("o-2", 1, 3, 5), order("o-3", 4)]
    async with db.transaction() as tx:
        await store.insert_pending(tx, placed)
    async with db.transaction(readonly=True) as tx:
        found = [await store.get(tx, o.id) for o in placed]
    assert found == placed


async def test_moving_several_orders_moves_only_those_in_the_source_state(db: Database) -> None:
    async with db.transaction() as tx:
        await store.insert_pending(tx, [order("o-1", 1), order("o-2", 1)])
        assert await store.move(tx, "o-2", PENDING, CONFIRMED, 2_000)
        moved = await store.move_all(tx, ["o-1", "o-2", "o-none"], PENDING, CONFIRMED, 3_000)
    assert moved == {"o-1"}


async def test_settling_several_keys_keeps_them_for_replay(db: Database) -> None:
    async with db.transaction() as tx:
        for n in range(3):
            await idempotency.claim(tx, "u-1", f"k-{n}", "h", f"o-{n}", 5_000, 1_000)
        await idempotency.settle(tx, ["o-0", "o-2"])
    async with db.transaction(readonly=True) as tx:
        rows = await tx.fetch("SELECT order_id, claimed_until FROM idempotency_keys")
    assert {r["order_id"]: r["claimed_until"] for r in rows} == {
        "o-0": None,
        "o-1": 5_000,
        "o-2": None,
    }


async def test_finalizing_one_order_twice_at_once_confirms_it_with_one_event(
    db: Database,
) -> None:
    service = OrderService(db, cast(ProductsStock, None))
    placed = [order("o-1", 1), order("o-2", 2)]
    async with db.transaction() as tx:
        await store.insert_pending(tx, placed)
    # the first call is in flight while the placing request and recovery race on o-1: the
    # next batch holds o-1 twice
    done = await asyncio.gather(
        service.finalize("o-none"),
        service.finalize("o-1", placed[0], keyed=False),
        service.finalize("o-1"),
        service.finalize("o-2", placed[1], keyed=False),
    )
    assert done[0] is None
    assert [(o.id, o.status) for o in done[1:] if o] == [
        ("o-1", CONFIRMED),
        ("o-1", CONFIRMED),
        ("o-2", CONFIRMED),
    ]
    async with db.transaction(readonly=True) as tx:
        events = await tx.fetch("SELECT subject FROM outbox ORDER BY subject")
    assert [e["subject"] for e in events] == ["o-1", "o-2"]
