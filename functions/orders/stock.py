"""The products service's stock API, as the orders function sees it (an adapter over the
shared service client). Every call is keyed by the order id, so every call may be retried."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import msgspec

from functions.orders.batches import Batched
from functions.orders.model import CONFIRMED, OrderLine, Wanted
from shop.auth import service_token
from shop.http.clients import ServiceClients
from shop.runtime.errors import Conflict, FieldError, InvalidInput, NotFound, Unavailable

T = TypeVar("T")
# The states of a reservation in products (`functions.products.model`).
ReservationState = Literal["held", "confirmed", "released", "expired", "returned"]


class OutOfStock(Conflict):
    title = "Out of stock"


class Rejected(Conflict):
    """The reservation is not in a state that allows the step (expired, released...)."""


@dataclass(frozen=True, slots=True)
class Reservation:
    order_id: str
    state: ReservationState
    lines: list[OrderLine]


class Answer(msgspec.Struct, frozen=True):
    """One call's HTTP status and JSON body (a batch answers each of its items so)."""

    status: int
    body: dict[str, Any] = msgspec.field(default_factory=dict)


class Answers(msgspec.Struct, frozen=True):
    items: list[Answer]


class Confirmed(msgspec.Struct, frozen=True):
    """One order's confirm: the state its reservation is in afterwards (None: no such one)."""

    order_id: str
    state: ReservationState | None


class Confirmations(msgspec.Struct, frozen=True):
    items: list[Confirmed]


class _Price(msgspec.Struct, frozen=True):
    amount: int
    currency: str


class _Item(msgspec.Struct, frozen=True):
    product_id: str
    name: str
    unit_price: _Price
    quantity: int


class _Refusal(msgspec.Struct, frozen=True):
    """A 409's problem body: the state that refused the step."""

    state: ReservationState | None = None


class _Reservation(msgspec.Struct, frozen=True):
    order_id: str
    state: ReservationState
    items: list[_Item]


class ProductsStock:
    """Reserves and confirms go in batches (`functions.orders.batches`): the calls of
    concurrent placements share one HTTP request each."""

    def __init__(self, clients: ServiceClients, token: str) -> None:
        self.clients = clients
        self.headers = {service_token.HEADER: token}
        self._reserve = Batched(self._reserve_all)
        self._confirm = Batched(self._confirm_all)

    async def reserve(self, order_id: str, wanted: list[Wanted]) -> Reservation:
        body = {
            "order_id": order_id,
            "items": [{"product_id": w.product_id, "quantity": w.quantity} for w in wanted],
        }
        answer = await self._reserve(body)
        if answer.status == 409 and "short" in answer.body:
            raise OutOfStock(
                "Not enough stock for some items.", extra={"short": answer.body["short"]}
            )
        if answer.status == 422:
            positions = {w.product_id: i for i, w in enumerate(wanted)}
            unknown = [
                e.get("message", "").removeprefix("unknown product ")
                for e in answer.body.get("errors", [])
            ]
            raise InvalidInput(
                "Some products do not exist or are no longer sold.",
                [
                    FieldError(f"items[{positions.get(pid, 0)}].product_id", "unknown product")
                    for pid in unknown
                ],
            )
        return _reservation(answer)

    async def confirm(self, order_id: str) -> None:
        confirmed = await self._confirm(order_id)
        if confirmed.state is None:
            raise NotFound("No such reservation.")
        if confirmed.state != CONFIRMED:
            raise Rejected(
                f"The reservation is {confirmed.state}; it cannot be confirmed.",
                extra={"state": confirmed.state},
            )

    async def _reserve_all(self, bodies: list[dict[str, Any]]) -> list[Answer]:
        if len(bodies) == 1:
            return [await self._call("POST", "/internal/reservations", bodies[0])]
        answer = await self._call("POST", "/internal/batch/reservations", {"items": bodies})
        if answer.status in (404, 405):  # a products instance from before the batch routes
            return [await self._call("POST", "/internal/reservations", b) for b in bodies]
        return _decoded(_ok(answer), Answers).items

    async def _confirm_all(self, order_ids: list[str]) -> list[Confirmed]:
        if len(order_ids) == 1:
            return [await self._confirm_one(order_ids[0])]
        answer = await self._call("POST", "/internal/batch/confirmations", {"order_ids": order_ids})
        if answer.status in (404, 405):
            return [await self._confirm_one(order_id) for order_id in order_ids]
        states = {item.order_id: item for item in _decoded(_ok(answer), Confirmations).items}
        return [states.get(order_id, Confirmed(order_id, None)) for order_id in order_ids]

    async def _confirm_one(self, order_id: str) -> Confirmed:
        answer = await self._call("POST", f"/internal/reservations/{order_id}/confirm")
        if answer.status == 404:
            return Confirmed(order_id, None)
        if answer.status == 409:
            return Confirmed(order_id, _decoded(answer.body, _Refusal).state)
        return Confirmed(order_id, _reservation(answer).state)

    async def release(self, order_id: str) -> Reservation:
        return _reservation(await self._call("POST", f"/internal/reservations/{order_id}/release"))

    async def give_back(self, order_id: str) -> Reservation:
        return _reservation(await self._call("POST", f"/internal/reservations/{order_id}/return"))

    async def look_up(self, order_id: str) -> Reservation | None:
        answer = await self._call("GET", f"/internal/reservations/{order_id}")
        return None if answer.status == 404 else _reservation(answer)

    async def _call(self, method: str, path: str, body: Any = None) -> Answer:
        response = await self.clients.request(
            "products", method, path, json=body, headers=self.headers, idempotent=True
        )
        if response.status_code >= 500 or response.status_code == 429:
            raise Unavailable("The products service cannot take orders right now.", retry_after=1)
        try:
            parsed = response.json()
        except ValueError:
            raise Unavailable("The products service answered nonsense.", retry_after=1) from None
        return Answer(response.status_code, parsed if isinstance(parsed, dict) else {})


def _ok(answer: Answer) -> dict[str, Any]:
    if answer.status >= 300:
        raise Unavailable(
            f"The products service refused the call ({answer.status}).", retry_after=1
        )
    return answer.body


def _decoded(body: dict[str, Any], kind: type[T]) -> T:
    try:
        return msgspec.convert(body, kind)
    except msgspec.ValidationError:
        raise Unavailable("The products service answered nonsense.", retry_after=1) from None


def _reservation(answer: Answer) -> Reservation:
    if answer.status == 404:
        raise NotFound("No such reservation.")
    if answer.status == 409:
        raise Rejected(
            str(answer.body.get("detail", "The reservation cannot change.")),
            extra={"state": answer.body.get("state")},
        )
    found = _decoded(_ok(answer), _Reservation)
    lines = [
        OrderLine(
            item.product_id,
            item.name,
            item.unit_price.amount,
            item.unit_price.currency,
            item.quantity,
        )
        for item in found.items
    ]
    return Reservation(found.order_id, found.state, lines)
