"""The products table, through the persistence port."""

from __future__ import annotations

from typing import Any

from functions.products.model import Product, like_pattern, search_text
from shop.db import Row, Transaction
from shop.runtime.pages import CursorKey

COLUMNS = (
    "id, sku, name, description, category, price_amount, price_currency, stock,"
    " created_us, updated_us"
)


def product(row: Row | None) -> Product | None:
    return None if row is None else Product(**dict(row))


async def insert(tx: Transaction, item: Product) -> bool:
    """False when a live product already has this sku."""
    found = await tx.fetchval(
        f"INSERT INTO products ({COLUMNS}, search_text)"  # noqa: S608
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT DO NOTHING RETURNING id",
        item.id,
        item.sku,
        item.name,
        item.description,
        item.category,
        item.price_amount,
        item.price_currency,
        item.stock,
        item.created_us,
        item.updated_us,
        search_text(item.name, item.description),
    )
    return found is not None


async def get(tx: Transaction, product_id: str) -> Product | None:
    return product(
        await tx.fetchrow(
            f"SELECT {COLUMNS} FROM products WHERE id = $1 AND deleted_us IS NULL",  # noqa: S608
            product_id,
        )
    )


async def sku_taken(tx: Transaction, sku: str, other_than: str) -> bool:
    found = await tx.fetchval(
        "SELECT id FROM products WHERE sku = $1 AND id <> $2 AND deleted_us IS NULL",
        sku,
        other_than,
    )
    return found is not None


async def update(
    tx: Transaction, product_id: str, changes: dict[str, Any], searchable: str | None, now: int
) -> Product | None:
    """Write only the changed columns (stock is never rewritten from a stale read)."""
    values: dict[str, Any] = {**changes, "updated_us": now}
    if searchable is not None:
        values["search_text"] = searchable
    assigns = ", ".join(f"{column} = ${n}" for n, column in enumerate(values, start=2))
    return product(
        await tx.fetchrow(
            f"UPDATE products SET {assigns} WHERE id = $1 AND deleted_us IS NULL"  # noqa: S608
            f" RETURNING {COLUMNS}",
            product_id,
            *values.values(),
        )
    )


async def delete(tx: Transaction, product_id: str, now: int) -> bool:
    return (
        await tx.execute(
            "UPDATE products SET deleted_us = $2, updated_us = $2"
            " WHERE id = $1 AND deleted_us IS NULL",
            product_id,
            now,
        )
        == 1
    )


async def page(
    tx: Transaction, *, q: str | None, category: str | None, after: CursorKey | None, limit: int
) -> list[Product]:
    """Live products, newest first, `limit + 1` of them (the extra one means: there is more)."""
    where = ["deleted_us IS NULL"]
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if category:
        where.append(f"category = {arg(category)}")
    if q:
        where.append(f"search_text LIKE {arg(like_pattern(q))} ESCAPE '\\'")
    if after is not None:
        created, ident = arg(after.created), arg(after.id)
        where.append(f"(created_us < {created} OR (created_us = {created} AND id < {ident}))")
    sql = (
        f"SELECT {COLUMNS} FROM products WHERE {' AND '.join(where)}"  # noqa: S608 - placeholders only
        f" ORDER BY created_us DESC, id DESC LIMIT {arg(limit + 1)}"
    )
    return [Product(**dict(row)) for row in await tx.fetch(sql, *args)]


async def count(tx: Transaction) -> int:
    return int(await tx.fetchval("SELECT count(*) FROM products"))
