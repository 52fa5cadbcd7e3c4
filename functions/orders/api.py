"""The orders function's HTTP surface: thin handlers over the order service."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter

from functions.orders.model import Order, Wanted
from functions.orders.service import OrderService
from shop.auth.bearer import BEARER
from shop.auth.tokens import Claims
from shop.money import Money
from shop.runtime.clock import rfc3339
from shop.runtime.pages import DEFAULT_LIMIT, decode_cursor, encode_cursor
from shop.runtime.text import LINE_PATTERN

Orders = NamedDependency[OrderService]
Caller = NamedDependency[Claims]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key", min_length=1, max_length=255, pattern=LINE_PATTERN, required=False
    ),
]
OrderId = Annotated[str, PathParameter(min_length=1, max_length=64, pattern=LINE_PATTERN)]


class ItemIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    product_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=LINE_PATTERN)]
    quantity: Annotated[int, msgspec.Meta(ge=1, le=100)]


class OrderIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    items: Annotated[list[ItemIn], msgspec.Meta(min_length=1, max_length=50)]


class ItemOut(msgspec.Struct, frozen=True):
    product_id: str
    name: str
    unit_price: Money
    quantity: int


class OrderOut(msgspec.Struct, frozen=True):
    id: str
    user_id: str
    status: str
    items: list[ItemOut]
    total: Money
    created: str

    @classmethod
    def of(cls, order: Order) -> OrderOut:
        items = [
            ItemOut(x.product_id, x.name, Money(x.unit_amount, x.currency), x.quantity)
            for x in order.lines
        ]
        total = Money(order.total_amount, order.currency)
        return cls(order.id, order.user_id, order.status, items, total, rfc3339(order.created_us))


class OrderPage(msgspec.Struct, frozen=True):
    items: list[OrderOut]
    next_cursor: str | None


@post("/orders", status_code=201, security=BEARER, tags=["orders"], summary="Place an order")
async def place(
    data: JSONBody[OrderIn], claims: Caller, orders: Orders, idempotency_key: IdempotencyKey = None
) -> Response[OrderOut]:
    wanted = [Wanted(item.product_id, item.quantity) for item in data.items]
    order = await orders.place(claims, wanted, idempotency_key)
    headers = {"Location": f"/orders/{order.id}"}
    return Response(OrderOut.of(order), status_code=201, headers=headers)


@get("/orders", security=BEARER, tags=["orders"], summary="The caller's orders, newest first")
async def mine(
    claims: Caller,
    orders: Orders,
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, QueryParameter(max_length=400)] = None,
) -> OrderPage:
    found, after = await orders.page(claims, decode_cursor(cursor), limit)
    following = encode_cursor(after.created, after.id) if after else None
    return OrderPage([OrderOut.of(o) for o in found], following)


@get(
    "/orders/{order_id:str}",
    security=BEARER,
    tags=["orders"],
    summary="One order (its owner or an admin)",
)
async def show(order_id: OrderId, claims: Caller, orders: Orders) -> OrderOut:
    return OrderOut.of(await orders.get(order_id, claims))


@post(
    "/orders/{order_id:str}/cancel",
    status_code=200,
    security=BEARER,
    tags=["orders"],
    summary="Cancel",
)
async def cancel(order_id: OrderId, claims: Caller, orders: Orders) -> OrderOut:
    return OrderOut.of(await orders.cancel(order_id, claims))


ROUTES = [place, mine, show, cancel]
