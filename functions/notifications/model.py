"""The notifications domain: which events notify whom, and what the message says. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import msgspec

from shop.money import Money
from shop.runtime.errors import ShopError
from shop.runtime.text import LINE_PATTERN, Email

REGISTERED = "shop.user.registered.v1"
CONFIRMED = "shop.order.confirmed.v1"
CANCELLED = "shop.order.cancelled.v1"
SOURCES = {REGISTERED: "/users", CONFIRMED: "/orders", CANCELLED: "/orders"}
HANDLED_TYPES = frozenset(SOURCES)
INBOX, EMAIL = "inbox", "email"
T = TypeVar("T")
_ZERO_DECIMALS = frozenset({"JPY", "KRW", "ISK", "CLP", "VND"})

# What reaches a mail's Subject is one line; the recipient is exactly one addr-spec.
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=LINE_PATTERN)]
Address = Email


class UnusableEvent(ShopError):
    """An event that can never succeed: answered 400, so it goes to the dead-letter sink."""

    kind = "bad_request"
    title = "Unusable event"


class Registered(msgspec.Struct, frozen=True):
    user_id: Text
    username: Text
    email: Address


class Line(msgspec.Struct, frozen=True):
    name: Text
    quantity: Annotated[int, msgspec.Meta(ge=1)]
    unit_price: Money


class Confirmed(msgspec.Struct, frozen=True):
    order_id: Text
    user_id: Text
    email: Address
    items: list[Line]
    total: Money


class Cancelled(msgspec.Struct, frozen=True):
    order_id: Text
    user_id: Text
    email: Address
    total: Money


@dataclass(frozen=True, slots=True)
class Draft:
    """What one event tells one user (the recipient comes from the event: event-carried)."""

    user_id: str
    email: str
    kind: str
    subject: str
    body: str


def compose(event_type: str, source: str, data: Any) -> Draft:
    if event_type not in SOURCES:
        raise UnusableEvent(f"Events of type {event_type!r} are not handled here.")
    if source != SOURCES[event_type]:
        raise UnusableEvent(f"{event_type} must come from {SOURCES[event_type]}, not {source!r}.")
    if event_type == REGISTERED:
        user = _convert(data, Registered)
        return Draft(
            user.user_id,
            user.email,
            "account_registered",
            f"Welcome, {user.username}",
            f"Hello {user.username},\n\nyour account is ready. Happy shopping!\n",
        )
    if event_type == CONFIRMED:
        order = _convert(data, Confirmed)
        lines = [
            f"  {line.quantity} x {line.name} at {money(line.unit_price)}" for line in order.items
        ]
        body = "\n".join(
            [
                f"Thank you for your order {order.order_id}.",
                "",
                *lines,
                "",
                f"Total: {money(order.total)}",
            ]
        )
        return Draft(
            order.user_id,
            order.email,
            "order_confirmed",
            f"Order {order.order_id} confirmed",
            body + "\n",
        )
    cancelled = _convert(data, Cancelled)
    return Draft(
        cancelled.user_id,
        cancelled.email,
        "order_cancelled",
        f"Order {cancelled.order_id} cancelled",
        f"Your order {cancelled.order_id} was cancelled; {money(cancelled.total)} will not be "
        "charged.\n",
    )


def money(value: Money) -> str:
    if value.currency in _ZERO_DECIMALS:
        return f"{value.amount} {value.currency}"
    return f"{value.amount // 100}.{value.amount % 100:02d} {value.currency}"


def _convert(data: Any, shape: type[T]) -> T:
    try:
        return msgspec.convert(data, shape)
    except msgspec.ValidationError as exc:
        raise UnusableEvent(f"The event's data is not usable: {exc}") from None
