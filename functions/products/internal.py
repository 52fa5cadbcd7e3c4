"""The stock API the orders function calls (never routed by the gateway): reserve, confirm,
release, return, look up. Every call is idempotent on the order id.

Orders sends the reserves and the confirms of concurrent placements in batches. A batch is one
transaction (each order in it still all-or-nothing), and each reserve gets the status and body
its single call would have given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from functions.products.model import Line, Reservation, ReservationState
from functions.products.stock import StockService
from shop.auth import service_token
from shop.money import Money
from shop.runtime.clock import rfc3339
from shop.runtime.errors import ShopError
from shop.runtime.problems import from_shop_error
from shop.runtime.text import LINE_PATTERN

# Not named `stock`: a body field of that name would be taken for the dependency.
Reservations = NamedDependency[StockService]
OrderId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=LINE_PATTERN)]
OrderInPath = Annotated[str, PathParameter(min_length=1, max_length=64, pattern=LINE_PATTERN)]


class LineIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    product_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=LINE_PATTERN)]
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
    state: ReservationState
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
async def confirm(order_id: OrderInPath, reservations: Reservations) -> ReservationOut:
    return ReservationOut.of(await reservations.confirm(order_id))


class ReservationsIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    items: Annotated[list[ReserveIn], msgspec.Meta(min_length=1, max_length=100)]


class AnswerOut(msgspec.Struct, frozen=True):
    status: int
    body: ReservationOut | dict[str, Any]


class AnswersOut(msgspec.Struct, frozen=True):
    items: list[AnswerOut]


@post("/batch/reservations", status_code=200)
async def reserve_all(
    data: JSONBody[ReservationsIn], reservations: Reservations, request: Request[Any, Any, Any]
) -> AnswersOut:
    """The reserves of a batch in one transaction, each answered as its own call would be."""
    found = await reservations.reserve_all(
        [
            (item.order_id, [Line(line.product_id, line.quantity) for line in item.items])
            for item in data.items
        ]
    )
    answers = []
    for each in found:
        if isinstance(each, ShopError):
            problem = from_shop_error(request, each)
            answers.append(AnswerOut(problem.status_code or 500, problem.content))
        else:
            answers.append(AnswerOut(201, ReservationOut.of(each)))
    return AnswersOut(answers)


class ConfirmationsIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    order_ids: Annotated[list[OrderId], msgspec.Meta(min_length=1, max_length=100)]


class ConfirmedOut(msgspec.Struct, frozen=True):
    order_id: str
    state: ReservationState | None


class ConfirmationsOut(msgspec.Struct, frozen=True):
    items: list[ConfirmedOut]


@post("/batch/confirmations", status_code=200)
async def confirm_all(
    data: JSONBody[ConfirmationsIn], reservations: Reservations
) -> ConfirmationsOut:
    """Each id's state after the step (`confirmed`: done; null: no such reservation)."""
    states = await reservations.confirm_all(data.order_ids)
    return ConfirmationsOut([ConfirmedOut(order_id, state) for order_id, state in states.items()])


@post("/reservations/{order_id:str}/release", status_code=200)
async def release(order_id: OrderInPath, reservations: Reservations) -> ReservationOut:
    return ReservationOut.of(await reservations.release(order_id))


@post("/reservations/{order_id:str}/return", status_code=200)
async def give_back(order_id: OrderInPath, reservations: Reservations) -> ReservationOut:
    return ReservationOut.of(await reservations.give_back(order_id))


@get("/reservations/{order_id:str}")
async def look_up(order_id: OrderInPath, reservations: Reservations) -> ReservationOut:
    return ReservationOut.of(await reservations.get(order_id))


def internal_router(token: Callable[[], str]) -> Router:
    """The stock API, for callers that carry the service token (`shop.auth.service_token`)."""
    return Router(
        "/internal",
        route_handlers=[reserve, reserve_all, confirm, confirm_all, release, give_back, look_up],
        guards=[service_token.guard(token)],
        include_in_schema=False,
    )
