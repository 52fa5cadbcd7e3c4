"""Reservations and their lines, through the persistence port. Every state change is a
conditional update, so of two racing transitions exactly one happens."""

from __future__ import annotations

from functions.products.model import (
    CONFIRMED,
    HELD,
    Line,
    Reservation,
    ReservationState,
    ReservedLine,
    Shortage,
)
from shop.db import Transaction, placeholders


async def create(tx: Transaction, order_id: str, expires_us: int, now: int) -> bool:
    """False when a reservation for this order already exists."""
    found = await tx.fetchval(
        "INSERT INTO reservations (order_id, state, expires_us, created_us, updated_us)"
        " VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING RETURNING order_id",
        order_id,
        HELD,
        expires_us,
        now,
    )
    return found is not None


async def take(tx: Transaction, line: Line, now: int) -> ReservedLine | None:
    """Take the line's units off the shelf, only if they are all there (never read-then-write)."""
    row = await tx.fetchrow(
        "UPDATE products SET stock = stock - $2, updated_us = $3"
        " WHERE id = $1 AND deleted_us IS NULL AND stock >= $2"
        " RETURNING name, price_amount, price_currency",
        line.product_id,
        line.quantity,
        now,
    )
    if row is None:
        return None
    return ReservedLine(
        line.product_id, line.quantity, row["name"], row["price_amount"], row["price_currency"]
    )


async def create_all(tx: Transaction, order_ids: list[str], expires_us: int, now: int) -> set[str]:
    """Held reservations for the order ids that have none yet; which ones were created."""
    if not order_ids:
        return set()
    values = ", ".join(f"(${n}, $1, $2, $3, $3)" for n in range(4, len(order_ids) + 4))
    rows = await tx.fetch(
        "INSERT INTO reservations (order_id, state, expires_us, created_us, updated_us)"  # noqa: S608
        f" VALUES {values} ON CONFLICT DO NOTHING RETURNING order_id",
        HELD,
        expires_us,
        now,
        *order_ids,
    )
    return {row["order_id"] for row in rows}


async def put_back(tx: Transaction, line: ReservedLine, now: int) -> None:
    """Undo a `take` of this transaction (its row is locked by it: nobody saw the units go)."""
    await tx.execute(
        "UPDATE products SET stock = stock + $2, updated_us = $3 WHERE id = $1",
        line.product_id,
        line.quantity,
        now,
    )


async def drop_all(tx: Transaction, order_ids: list[str]) -> None:
    """Forget reservations created in this transaction that took nothing."""
    marks = placeholders.listed(len(order_ids))
    await tx.execute(
        f"DELETE FROM reservations WHERE order_id IN ({marks})",  # noqa: S608
        *order_ids,
    )


async def add_lines(tx: Transaction, lines: list[tuple[str, ReservedLine]]) -> None:
    """The reservations' lines, (order id, line) each, in one statement."""
    if not lines:
        return
    values = placeholders.rows(6, len(lines))
    await tx.execute(
        "INSERT INTO reservation_lines"  # noqa: S608
        " (order_id, product_id, quantity, name, price_amount, price_currency)"
        f" VALUES {values}",
        *(
            value
            for order_id, line in lines
            for value in (
                order_id,
                line.product_id,
                line.quantity,
                line.name,
                line.price_amount,
                line.price_currency,
            )
        ),
    )


async def get(tx: Transaction, order_id: str) -> Reservation | None:
    """The reservation with its lines, in one statement."""
    rows = await tx.fetch(
        "SELECT r.state, r.expires_us, l.product_id, l.quantity, l.name, l.price_amount,"
        " l.price_currency FROM reservations r"
        " LEFT JOIN reservation_lines l ON l.order_id = r.order_id"
        " WHERE r.order_id = $1 ORDER BY l.product_id",
        order_id,
    )
    if not rows:
        return None
    lines = tuple(
        ReservedLine(
            row["product_id"],
            row["quantity"],
            row["name"],
            row["price_amount"],
            row["price_currency"],
        )
        for row in rows
        if row["product_id"] is not None
    )
    return Reservation(order_id, rows[0]["state"], rows[0]["expires_us"], lines)


async def move(
    tx: Transaction, order_id: str, source: ReservationState, target: ReservationState, now: int
) -> bool:
    """Move the reservation from `source` to `target`; False if it was not in `source`."""
    moved = await tx.execute(
        "UPDATE reservations SET state = $3, updated_us = $4 WHERE order_id = $1 AND state = $2",
        order_id,
        source,
        target,
        now,
    )
    return moved == 1


async def confirm_held(tx: Transaction, order_ids: list[str], now: int) -> set[str]:
    """Confirm those of the reservations that are held and not past expiry, in one statement;
    which ones moved."""
    marks = placeholders.listed(len(order_ids), start=3)
    rows = await tx.fetch(
        f"UPDATE reservations SET state = '{CONFIRMED}', updated_us = $1"  # noqa: S608
        f" WHERE state = $2 AND expires_us > $1 AND order_id IN ({marks}) RETURNING order_id",
        now,
        HELD,
        *order_ids,
    )
    return {row["order_id"] for row in rows}


async def states(tx: Transaction, order_ids: list[str]) -> dict[str, ReservationState]:
    marks = placeholders.listed(len(order_ids))
    rows = await tx.fetch(
        f"SELECT order_id, state FROM reservations WHERE order_id IN ({marks})",  # noqa: S608
        *order_ids,
    )
    return {row["order_id"]: row["state"] for row in rows}


async def restock(tx: Transaction, order_id: str, now: int) -> None:
    """Put the reservation's units back (deleted products too: their stock stays accounted)."""
    for row in await tx.fetch(
        "SELECT product_id, quantity FROM reservation_lines"
        " WHERE order_id = $1 ORDER BY product_id",
        order_id,
    ):
        await tx.execute(
            "UPDATE products SET stock = stock + $2, updated_us = $3 WHERE id = $1",
            row["product_id"],
            row["quantity"],
            now,
        )


async def due(tx: Transaction, now: int, limit: int) -> list[str]:
    rows = await tx.fetch(
        "SELECT order_id FROM reservations WHERE state = $1 AND expires_us <= $2"
        " ORDER BY expires_us LIMIT $3",
        HELD,
        now,
        limit,
    )
    return [row["order_id"] for row in rows]


async def shortages(tx: Transaction, lines: list[Line]) -> tuple[list[str], list[Shortage]]:
    """Why lines could not be taken: the unknown product ids, and the short ones."""
    unknown: list[str] = []
    short: list[Shortage] = []
    for line in lines:
        available = await tx.fetchval(
            "SELECT stock FROM products WHERE id = $1 AND deleted_us IS NULL", line.product_id
        )
        if available is None:
            unknown.append(line.product_id)
        elif available < line.quantity:
            short.append(Shortage(line.product_id, line.quantity, int(available)))
    return unknown, short
