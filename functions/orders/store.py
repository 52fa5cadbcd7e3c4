"""The orders tables, through the persistence port."""

from __future__ import annotations

from functions.orders.model import CANCELLED, PENDING, Order, OrderLine
from shop.db import Row, Transaction, placeholders
from shop.runtime.pages import CursorKey

HEAD = "id, user_id, email, status, total_amount, currency, created_us"


async def insert_pending(tx: Transaction, orders: list[Order]) -> None:
    """The orders as pending, with their lines: two statements however many there are."""
    await tx.execute(
        f"INSERT INTO orders ({HEAD}, updated_us) VALUES {placeholders.rows(8, len(orders))}",  # noqa: S608
        *(
            value
            for o in orders
            for value in (
                o.id,
                o.user_id,
                o.email,
                PENDING,
                o.total_amount,
                o.currency,
                o.created_us,
                o.created_us,
            )
        ),
    )
    lines = [(o.id, position, line) for o in orders for position, line in enumerate(o.lines)]
    if not lines:
        return
    await tx.execute(
        "INSERT INTO order_items"  # noqa: S608 - placeholders only
        " (order_id, position, product_id, name, unit_amount, currency, quantity)"
        f" VALUES {placeholders.rows(7, len(lines))}",
        *(
            value
            for order_id, position, line in lines
            for value in (
                order_id,
                position,
                line.product_id,
                line.name,
                line.unit_amount,
                line.currency,
                line.quantity,
            )
        ),
    )


async def _with_lines(tx: Transaction, heads: list[Row]) -> list[Order]:
    orders = []
    for head in heads:
        rows = await tx.fetch(
            "SELECT product_id, name, unit_amount, currency, quantity FROM order_items"
            " WHERE order_id = $1 ORDER BY position",
            head["id"],
        )
        lines = tuple(OrderLine(**dict(row)) for row in rows)
        orders.append(Order(lines=lines, **dict(head)))
    return orders


async def get(tx: Transaction, order_id: str) -> Order | None:
    head = await tx.fetchrow(f"SELECT {HEAD} FROM orders WHERE id = $1", order_id)  # noqa: S608
    return None if head is None else (await _with_lines(tx, [head]))[0]


async def page(tx: Transaction, user_id: str, after: CursorKey | None, limit: int) -> list[Order]:
    """The user's placed orders, newest first, `limit + 1` of them."""
    if after is None:
        heads = await tx.fetch(
            f"SELECT {HEAD} FROM orders WHERE user_id = $1 AND status <> $2"  # noqa: S608
            " ORDER BY created_us DESC, id DESC LIMIT $3",
            user_id,
            PENDING,
            limit + 1,
        )
    else:
        heads = await tx.fetch(
            f"SELECT {HEAD} FROM orders WHERE user_id = $1 AND status <> $2"  # noqa: S608
            " AND (created_us < $3 OR (created_us = $3 AND id < $4))"
            " ORDER BY created_us DESC, id DESC LIMIT $5",
            user_id,
            PENDING,
            after.created,
            after.id,
            limit + 1,
        )
    return await _with_lines(tx, heads)


async def move(tx: Transaction, order_id: str, source: str, target: str, now: int) -> bool:
    moved = await tx.execute(
        "UPDATE orders SET status = $3, updated_us = $4 WHERE id = $1 AND status = $2",
        order_id,
        source,
        target,
        now,
    )
    return moved == 1


async def move_all(
    tx: Transaction, order_ids: list[str], source: str, target: str, now: int
) -> set[str]:
    """Move those of the orders that are in `source` to `target`; which ones moved."""
    marks = placeholders.listed(len(order_ids), start=4)
    rows = await tx.fetch(
        "UPDATE orders SET status = $2, updated_us = $3"  # noqa: S608
        f" WHERE status = $1 AND id IN ({marks}) RETURNING id",
        source,
        target,
        now,
        *order_ids,
    )
    return {row["id"] for row in rows}


async def drop_pending(tx: Transaction, order_id: str) -> bool:
    await tx.execute(
        "DELETE FROM order_items WHERE order_id = $1 AND EXISTS"
        " (SELECT 1 FROM orders WHERE id = $1 AND status = $2)",
        order_id,
        PENDING,
    )
    return (
        await tx.execute("DELETE FROM orders WHERE id = $1 AND status = $2", order_id, PENDING) == 1
    )


async def mark_returned(tx: Transaction, order_id: str) -> None:
    await tx.execute("UPDATE orders SET stock_returned = 1 WHERE id = $1", order_id)


async def unsettled(tx: Transaction, before_us: int, limit: int) -> list[tuple[str, str]]:
    """Pending orders idle since before `before_us`, and cancelled ones whose stock is out."""
    rows = await tx.fetch(
        "SELECT id, status FROM orders WHERE (status = $1 AND updated_us < $2)"
        " OR (status = $3 AND stock_returned = 0) ORDER BY updated_us LIMIT $4",
        PENDING,
        before_us,
        CANCELLED,
        limit,
    )
    return [(row["id"], row["status"]) for row in rows]
