"""The stock API the orders function calls (never routed by the gateway): reserve, confirm,
release, return, look up, and confirm many at once. Every call is idempotent on the order id."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from functions.products.model import Line, Reservation
from functions.products.stock import StockService
from shop.clock import rfc3339
from shop.money import Money

# Not named `stock`: a body field of that name would be taken for the dependency.
Reservations = NamedDependency[StockService]
OrderId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class LineIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    product_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    quantity: Annotated[int, msgspec.Meta(ge=1, le=100)]


class ReserveIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    order_id: OrderId
    items: Annotated[list[LineIn], msgspec.Meta(min_length=1, max_length=50)]


class ReservedOut(msgspec.Struct, frozen=True):
    product_id: str
    name: str
    unit_price: Money
    quantity: int


class ReservationOut(msgspec.Struct, frozen=True):
    order_id: str
    state: str
    expires: str
    items: list[ReservedOut]

    @classmethod
    def of(cls, r: Reservation) -> ReservationOut:
        items = [
            ReservedOut(x.product_id, x.name, Money(x.price_amount, x.price_currency), x.quantity)
            for x in r.lines
        ]
        return cls(r.order_id, r.state, rfc3339(r.expires_us), items)


@post("/reservations", status_code=201)
async def reserve(data: JSONBody[ReserveIn], reservations: Reservations) -> ReservationOut:
    lines = [Line(item.product_id, item.quantity) for item in data.items]
    return ReservationOut.of(await reservations.reserve(data.order_id, lines))


@post("/reservations/{order_id:str}/confirm", status_code=200)
async def confirm(order_id: FromPath[str], reservations: Reservations) -> ReservationOut:
    return ReservationOut.of(await reservations.confirm(order_id))


class ConfirmationsIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    order_ids: Annotated[list[OrderId], msgspec.Meta(min_length=1, max_length=100)]


class ConfirmedOut(msgspec.Struct, frozen=True):
    order_id: str
    state: str | None


class ConfirmationsOut(msgspec.Struct, frozen=True):
    items: list[ConfirmedOut]


@post("/confirmations", status_code=200)
async def confirm_all(
    data: JSONBody[ConfirmationsIn], reservations: Reservations
) -> ConfirmationsOut:
    """Each id's state after the step (`confirmed`: done; null: no such reservation)."""
    states = await reservations.confirm_all(data.order_ids)
    return ConfirmationsOut([ConfirmedOut(order_id, state) for order_id, state in states.items()])


@post("/reservations/{order_id:str}/release", status_code=200)
async def release(order_id: FromPath[str], reservations: Reservations) -> ReservationOut:
    return ReservationOut.of(await reservations.release(order_id))


@post("/reservations/{order_id:str}/return", status_code=200)
async def give_back(order_id: FromPath[str], reservations: Reservations) -> ReservationOut:
    return ReservationOut.of(await reservations.give_back(order_id))


@get("/reservations/{order_id:str}")
async def look_up(order_id: FromPath[str], reservations: Reservations) -> ReservationOut:
    return ReservationOut.of(await reservations.get(order_id))


INTERNAL = Router(
    "/internal",
    route_handlers=[reserve, confirm, confirm_all, release, give_back, look_up],
    include_in_schema=False,
)
