"""The floor under any orders path built as this product is: the bare transaction behind two
Litestar services over HTTP, and nothing else (no tokens, registry, outbox, lines or checks).

`FLOOR_ROLE=front` answers `POST /orders` by calling `FLOOR_BACK`'s `POST /take` over one
pooled aiohttp session; `FLOOR_ROLE=back` runs the benchmark's bare transaction (insert an
order row + a conditional stock update) on `FLOOR_DATABASE_URL` in `FLOOR_SCHEMA`. Run with
`uvicorn benchmarks.orders_floor:create_app --factory`, like the functions, on uvloop and
httptools.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import msgspec
from litestar import Litestar, post


class Wanted(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    product_id: str


class Taken(msgspec.Struct, frozen=True):
    order_id: str
    product_id: str


def create_app() -> Litestar:
    role = os.environ["FLOOR_ROLE"]
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if role == "back":
            import asyncpg

            state["pool"] = await asyncpg.create_pool(
                os.environ["FLOOR_DATABASE_URL"],
                min_size=10,
                max_size=10,
                server_settings={"search_path": os.environ["FLOOR_SCHEMA"]},
            )
        else:
            state["session"] = aiohttp.ClientSession(os.environ["FLOOR_BACK"])
        try:
            yield
        finally:
            if role == "back":
                await state["pool"].close()
            else:
                await state["session"].close()

    @post("/take", status_code=201)
    async def take(data: Wanted) -> Taken:
        order_id = str(uuid.uuid4())
        async with state["pool"].acquire() as connection, connection.transaction():
            await connection.execute(
                "INSERT INTO orders (id, product_id, quantity, created_us) VALUES ($1, $2, 1, $3)",
                order_id,
                data.product_id,
                time.time_ns() // 1000,
            )
            status = await connection.execute(
                "UPDATE stock SET stock = stock - 1 WHERE id = $1 AND stock >= 1", data.product_id
            )
            if status != "UPDATE 1":
                raise RuntimeError("no stock")
        return Taken(order_id, data.product_id)

    @post("/orders", status_code=201)
    async def place(data: Wanted) -> Taken:
        async with state["session"].post("/take", json={"product_id": data.product_id}) as answer:
            if answer.status != 201:
                raise RuntimeError(f"back answered {answer.status}")
            return msgspec.json.decode(await answer.read(), type=Taken)

    return Litestar([take if role == "back" else place], lifespan=[lifespan])
