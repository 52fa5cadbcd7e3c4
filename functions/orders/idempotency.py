"""Idempotency-Key claims: one row per (user, key), made race-safe by its primary key.

A claim names the order id the first request works on and a short lease its owner renews while
it works; a second request with the same key finds the claim and replays that order, or waits
for it. A claim whose lease lapsed (its owner died, hangs, or gave up) is settled by the next
request: taken over with a conditional update (so only one request wins it) when no order was
persisted, else its pending order is finished or undone as products says.
"""

from __future__ import annotations

from dataclasses import dataclass

from shop.db import Transaction, placeholders


@dataclass(frozen=True, slots=True)
class Claim:
    order_id: str
    request_hash: str
    claimed_until: int | None
    mine: bool


async def claim(
    tx: Transaction,
    user_id: str,
    key: str,
    request_hash: str,
    order_id: str,
    lease_until: int,
    now: int,
) -> Claim:
    inserted = await tx.fetchval(
        "INSERT INTO idempotency_keys"
        " (user_id, key, request_hash, order_id, claimed_until, created_us)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING order_id",
        user_id,
        key,
        request_hash,
        order_id,
        lease_until,
        now,
    )
    if inserted is not None:
        return Claim(order_id, request_hash, lease_until, mine=True)
    row = await tx.fetchrow(
        "SELECT order_id, request_hash, claimed_until FROM idempotency_keys"
        " WHERE user_id = $1 AND key = $2",
        user_id,
        key,
    )
    if row is None:  # forgotten between the two statements: the caller tries again
        return Claim("", request_hash, None, mine=False)
    return Claim(row["order_id"], row["request_hash"], row["claimed_until"], mine=False)


async def take_over(
    tx: Transaction, user_id: str, key: str, old: Claim, order_id: str, lease_until: int, now: int
) -> bool:
    """Adopt an abandoned claim (its lease lapsed: the owner died, hangs or gave up) with a
    fresh order id; False if someone else did first or the owner renewed it meanwhile."""
    moved = await tx.execute(
        "UPDATE idempotency_keys SET order_id = $3, claimed_until = $4"
        " WHERE user_id = $1 AND key = $2 AND order_id = $5 AND claimed_until < $6",
        user_id,
        key,
        order_id,
        lease_until,
        old.order_id,
        now,
    )
    return moved == 1


async def renew(tx: Transaction, user_id: str, key: str, order_id: str, lease_until: int) -> bool:
    """The owner, still at work, extends its lease; False if the claim was taken over (the
    owner must then not confirm the order)."""
    renewed = await tx.execute(
        "UPDATE idempotency_keys SET claimed_until = $4"
        " WHERE user_id = $1 AND key = $2 AND order_id = $3 AND claimed_until IS NOT NULL",
        user_id,
        key,
        order_id,
        lease_until,
    )
    return renewed == 1


async def release(tx: Transaction, user_id: str, key: str, order_id: str) -> None:
    """The owner gave up on an order it could not settle (its outcome unknown until products
    answers): the next request with the key settles it at once instead of waiting."""
    await tx.execute(
        "UPDATE idempotency_keys SET claimed_until = 0"
        " WHERE user_id = $1 AND key = $2 AND order_id = $3 AND claimed_until IS NOT NULL",
        user_id,
        key,
        order_id,
    )


async def settle(tx: Transaction, order_ids: list[str]) -> None:
    """The claimed orders are placed: their keys now replay them until the keys expire."""
    marks = placeholders.listed(len(order_ids))
    await tx.execute(
        f"UPDATE idempotency_keys SET claimed_until = NULL WHERE order_id IN ({marks})",  # noqa: S608
        *order_ids,
    )


async def forget(tx: Transaction, order_id: str) -> None:
    """The claimed order was never placed: the key is free for a new attempt."""
    await tx.execute("DELETE FROM idempotency_keys WHERE order_id = $1", order_id)


async def purge(tx: Transaction, before_us: int) -> int:
    return await tx.execute("DELETE FROM idempotency_keys WHERE created_us < $1", before_us)
