from __future__ import annotations

import asyncio

import pytest

from functions.orders.confirmations import Confirmations
from shop.errors import Unavailable


class Products:
    """Answers each batch once `go` is set; records the batches it was sent."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.go = asyncio.Event()
        self.fail = False

    async def send(self, order_ids: list[str]) -> dict[str, str | None]:
        self.batches.append(order_ids)
        await self.go.wait()
        if self.fail:
            raise Unavailable("products is down")
        return {order_id: None if order_id == "gone" else "confirmed" for order_id in order_ids}


async def test_a_lone_confirm_goes_at_once() -> None:
    products = Products()
    products.go.set()
    assert await Confirmations(products.send).confirm("o-1") == "confirmed"
    assert products.batches == [["o-1"]]


async def test_confirms_arriving_during_a_call_go_together_in_the_next() -> None:
    products = Products()
    confirmations = Confirmations(products.send, most=3)
    first = asyncio.create_task(confirmations.confirm("o-1"))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(confirmations.confirm(f"o-{n}")) for n in range(2, 7)]
    rest.append(asyncio.create_task(confirmations.confirm("gone")))
    await asyncio.sleep(0)
    products.go.set()
    assert await first == "confirmed"
    assert await asyncio.gather(*rest) == ["confirmed"] * 5 + [None]
    assert products.batches == [["o-1"], ["o-2", "o-3", "o-4"], ["o-5", "o-6", "gone"]]


async def test_a_failed_call_fails_each_of_its_confirms_and_the_next_call_runs() -> None:
    products = Products()
    confirmations = Confirmations(products.send)
    products.fail = True
    waiting = [asyncio.create_task(confirmations.confirm(f"o-{n}")) for n in range(3)]
    await asyncio.sleep(0)
    products.go.set()
    for task in waiting:
        with pytest.raises(Unavailable):
            await task
    products.fail = False
    assert await confirmations.confirm("o-9") == "confirmed"
