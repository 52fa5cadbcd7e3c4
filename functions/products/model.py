"""The products domain: catalog entries and stock reservations. Pure: no I/O here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final, Literal

ReservationState = Literal["held", "confirmed", "released", "expired", "returned"]
HELD: Final = "held"
CONFIRMED: Final = "confirmed"
RELEASED: Final = "released"
EXPIRED: Final = "expired"
RETURNED: Final = "returned"
# Which transitions give the reserved units back to the shelf.
RESTOCKING = {(HELD, RELEASED), (HELD, EXPIRED), (CONFIRMED, RETURNED)}


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    sku: str
    name: str
    description: str
    category: str
    price_amount: int
    price_currency: str
    stock: int
    created_us: int
    updated_us: int

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())


def search_text(name: str, description: str) -> str:
    """What `q` matches, folded once in Python so both databases compare alike."""
    return f"{name}\n{description}".casefold()


def like_pattern(query: str) -> str:
    escaped = query.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True, slots=True)
class Line:
    product_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class ReservedLine:
    product_id: str
    quantity: int
    name: str
    price_amount: int
    price_currency: str


@dataclass(frozen=True, slots=True)
class Reservation:
    order_id: str
    state: ReservationState
    expires_us: int
    lines: tuple[ReservedLine, ...]

    def same_request(self, lines: list[Line]) -> bool:
        mine = sorted((line.product_id, line.quantity) for line in self.lines)
        return mine == sorted((line.product_id, line.quantity) for line in lines)


@dataclass(frozen=True, slots=True)
class Shortage:
    product_id: str
    requested: int
    available: int
