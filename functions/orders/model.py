"""The orders domain: an order's lines, total, status and events. Pure: no I/O here."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from shop.runtime.errors import FieldError, InvalidInput

PENDING = "pending"
CONFIRMED = "confirmed"
CANCELLED = "cancelled"
SOURCE = "/orders"
ORDER_CONFIRMED = "shop.order.confirmed.v1"
ORDER_CANCELLED = "shop.order.cancelled.v1"


@dataclass(frozen=True, slots=True)
class Wanted:
    product_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderLine:
    product_id: str
    name: str
    unit_amount: int
    currency: str
    quantity: int

    def price(self) -> dict[str, Any]:
        return {"amount": self.unit_amount, "currency": self.currency}


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    user_id: str
    email: str
    status: str
    lines: tuple[OrderLine, ...]
    total_amount: int
    currency: str
    created_us: int

    @classmethod
    def place(
        cls, order_id: str, user_id: str, email: str, lines: list[OrderLine], now: int
    ) -> Order:
        """A pending order at the prices the reservation captured."""
        currencies = {line.currency for line in lines}
        if len(currencies) != 1:
            raise InvalidInput(
                "An order is paid in one currency.", [FieldError("items", "mixed currencies")]
            )
        total = sum(line.unit_amount * line.quantity for line in lines)
        return cls(order_id, user_id, email, PENDING, tuple(lines), total, currencies.pop(), now)

    def visible_to(self, subject: str, role: str) -> bool:
        return self.status != PENDING and (role == "admin" or subject == self.user_id)

    def total(self) -> dict[str, Any]:
        return {"amount": self.total_amount, "currency": self.currency}

    def confirmed_event(self) -> dict[str, Any]:
        items = [
            {
                "product_id": line.product_id,
                "name": line.name,
                "unit_price": line.price(),
                "quantity": line.quantity,
            }
            for line in self.lines
        ]
        return {
            "order_id": self.id,
            "user_id": self.user_id,
            "email": self.email,
            "items": items,
            "total": self.total(),
        }

    def cancelled_event(self) -> dict[str, Any]:
        return {
            "order_id": self.id,
            "user_id": self.user_id,
            "email": self.email,
            "total": self.total(),
        }


def check_wanted(wanted: list[Wanted]) -> None:
    """Each product at most once (the bounds on counts and quantities are the API's)."""
    seen: set[str] = set()
    errors = []
    for index, line in enumerate(wanted):
        if line.product_id in seen:
            errors.append(FieldError(f"items[{index}].product_id", "duplicate product"))
        seen.add(line.product_id)
    if errors:
        raise InvalidInput("Each product may appear once in an order.", errors)


def fingerprint(wanted: list[Wanted]) -> str:
    """What makes two requests 'the same body' for an Idempotency-Key (line order aside)."""
    canonical = ";".join(f"{w.product_id}={w.quantity}" for w in sorted(wanted, key=_key))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _key(wanted: Wanted) -> str:
    return wanted.product_id
