from __future__ import annotations

import asyncio
import contextvars

import pytest

from functions.orders.batches import Batched
from shop.runtime.errors import Unavailable


class Products:
    """Answers each batch once `go` is set; records the batches it was sent."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.go = asyncio.Event()
        self.fail = False

    async def send(self, order_ids: list[str]) -> list[str]:
        self.batches.append(order_ids)
        await self.go.wait()
        if self.fail:
            raise Unavailable("products is down")
        return [f"{order_id} confirmed" for order_id in order_ids]


async def test_a_lone_request_goes_at_once() -> None:
    products = Products()
    products.go.set()
    assert await Batched(products.send)("o-1") == "o-1 confirmed"
    assert products.batches == [["o-1"]]


async def test_requests_arriving_during_a_call_go_together_in_the_next() -> None:
    products = Products()
    confirm = Batched(products.send, most=3)
    first = asyncio.create_task(confirm("o-1"))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(confirm(f"o-{n}")) for n in range(2, 8)]
    await asyncio.sleep(0)
    products.go.set()
    assert await first == "o-1 confirmed"
    assert await asyncio.gather(*rest) == [f"o-{n} confirmed" for n in range(2, 8)]
    assert products.batches == [["o-1"], ["o-2", "o-3", "o-4"], ["o-5", "o-6", "o-7"]]


async def test_a_failed_call_fails_each_of_its_requests_and_the_next_call_runs() -> None:
    products = Products()
    confirm = Batched(products.send)
    products.fail = True
    waiting = [asyncio.create_task(confirm(f"o-{n}")) for n in range(3)]
    await asyncio.sleep(0)
    products.go.set()
    for task in waiting:
        with pytest.raises(Unavailable):
            await task
    products.fail = False
    assert await confirm("o-9") == "o-9 confirmed"


async def test_answers_that_do_not_match_the_requests_fail_the_batch() -> None:
    async def short(requests: list[str]) -> list[str]:
        return requests[1:]

    with pytest.raises(ValueError, match="do not match"):
        await Batched(short)("o-1")


async def test_a_batch_is_called_in_the_context_of_its_first_request() -> None:
    caller: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="nobody")
    seen: list[str] = []

    async def send(requests: list[str]) -> list[str]:
        seen.append(caller.get())
        await asyncio.sleep(0)
        return requests

    batched = Batched(send)

    async def request(name: str) -> str:
        caller.set(name)
        return await batched(name)

    first = asyncio.create_task(request("r-0"))
    await asyncio.sleep(0)  # r-0's call is in flight: r-1 and r-2 wait for the next
    assert list(await asyncio.gather(first, request("r-1"), request("r-2"))) == [
        "r-0",
        "r-1",
        "r-2",
    ]
    assert seen == ["r-0", "r-1"]  # r-1 and r-2 went together, on behalf of r-1
