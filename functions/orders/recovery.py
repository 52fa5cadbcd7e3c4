"""Settles what an interrupted request left behind, on every instance, at start-up and every
few seconds while it is up:
stale pending orders are confirmed or dropped as products' reservation says, cancelled orders
get their stock back, and old Idempotency-Keys are forgotten."""

from __future__ import annotations

import asyncio
import logging

from functions.orders import idempotency, store
from functions.orders.model import CANCELLED
from functions.orders.service import OrderService
from shop.runtime.errors import ShopError, Unavailable

log = logging.getLogger("shop.orders")


class Recovery:
    def __init__(self, orders: OrderService, *, grace: float, key_ttl: float) -> None:
        self.orders = orders
        self.grace_us = int(grace * 1_000_000)
        self.key_ttl_us = int(key_ttl * 1_000_000)

    async def run_once(self, limit: int = 100) -> int:
        """Settle what is due; how many orders were settled."""
        orders = self.orders
        now = orders.clock()
        async with orders.db.transaction() as tx:
            due = await store.unsettled(tx, now - self.grace_us, limit)
            await idempotency.purge(tx, now - self.key_ttl_us)
        settled = 0
        for order_id, status in due:
            try:
                if status == CANCELLED:
                    settled += await orders.return_stock(order_id)
                else:
                    settled += await orders.settle_pending(order_id)
            except Unavailable:
                break  # products or the database is down: the next pass tries again
            except ShopError as exc:
                log.warning(
                    "order not settled yet", extra={"order_id": order_id, "error": str(exc)}
                )
        return settled

    async def forever(self, interval: float) -> None:
        """At start-up, then every `interval` while the instance is up: an instance that
        starts from zero settles what the last one left, with no ping to wake it."""
        while True:
            try:
                count = await self.run_once()
            except Unavailable:
                continue  # the database or products is down: each logs its own outage once
            except Exception:
                log.warning("order recovery failed; retrying", exc_info=True)
                count = 0
            if count:
                log.info("orders settled", extra={"count": count})
            await asyncio.sleep(interval)
