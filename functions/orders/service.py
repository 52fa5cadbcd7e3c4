"""Placing, reading and cancelling orders.

Placing is reserve (products) -> persist as pending -> confirm (products) -> mark confirmed
with its event, in one transaction. A failure at any step compensates (the reservation is
released, the pending order dropped). What a crash leaves behind settles by itself: held
reservations expire in products, and `Recovery` finishes or drops stale pending orders.

Concurrent placements share their calls and transactions (group commit, see
`functions.orders.batches`): the pending orders placed while one insert is in flight are
written together by the next, and so are the confirmations. Each placement still waits for
its own step to commit before it takes the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

from functions.orders import idempotency, store
from functions.orders.batches import Batched
from functions.orders.model import (
    CANCELLED,
    CONFIRMED,
    ORDER_CANCELLED,
    ORDER_CONFIRMED,
    PENDING,
    SOURCE,
    Order,
    Wanted,
    check_wanted,
    fingerprint,
)
from functions.orders.stock import ProductsStock, Rejected
from shop.auth.tokens import Claims
from shop.db import Database
from shop.events import outbox
from shop.runtime import telemetry
from shop.runtime.clock import now_us
from shop.runtime.errors import Conflict, FieldError, InvalidInput, NotFound, ShopError, Unavailable
from shop.runtime.pages import CursorKey

Fault = Callable[[str], Awaitable[None]]
# what finalizing needs: the order id, the order as placed (if at hand), whether it has an
# Idempotency-Key, and the placing request's trace context (its event continues that trace)
Finalize = tuple[str, Order | None, bool, str | None]


class Undo(enum.Enum):
    """What undoing a placement found."""

    UNDONE = "undone"  # the stock is released and the pending order dropped
    CONFIRMED = "confirmed"  # the reservation turned out confirmed: the order should finish
    UNKNOWN = "unknown"  # products cannot say now: recovery settles it later


DUPLICATE_WAIT = 2.0  # seconds a request waits for its key's first request before a 409
DUPLICATE_RETRY_AFTER = 3  # the most a 409 "in progress" asks a client to wait


class InProgress(Conflict):
    """A 409 with Retry-After: the key's first request is still at work."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


async def no_fault(step: str) -> None:
    """Tests inject crashes between steps here."""


class OrderService:
    def __init__(
        self,
        db: Database,
        stock: ProductsStock,
        *,
        claim_lease: float = 3.0,
        fault: Fault = no_fault,
        clock: Callable[[], int] = now_us,
    ) -> None:
        self.db = db
        self.stock = stock
        self.lease_us = int(claim_lease * 1_000_000)
        self.fault = fault
        self.clock = clock
        self._persist = Batched(self._persist_all)
        self._finalize = Batched(self._finalize_all)

    async def place(self, claims: Claims, wanted: list[Wanted], key: str | None) -> Order:
        check_wanted(wanted)
        if key is None:
            return await self._place(claims, wanted, str(uuid.uuid4()))
        request_hash = fingerprint(wanted)
        deadline = time.monotonic() + DUPLICATE_WAIT
        while True:
            order_id = str(uuid.uuid4())
            now = self.clock()
            lease = now + self.lease_us
            order = None
            async with self.db.transaction() as tx:
                found = await idempotency.claim(
                    tx, claims.sub, key, request_hash, order_id, lease, now
                )
                lapsed = found.claimed_until is not None and found.claimed_until < now
                if not found.mine and found.request_hash == request_hash and found.order_id:
                    order = await store.get(tx, found.order_id)
                    if (
                        order is None
                        and lapsed
                        and await idempotency.take_over(
                            tx, claims.sub, key, found, order_id, lease, now
                        )
                    ):
                        found = idempotency.Claim(order_id, request_hash, lease, mine=True)
            if found.mine:
                return await self._keyed(claims, wanted, order_id, key)
            if found.request_hash != request_hash:
                raise InvalidInput(
                    "This Idempotency-Key was used with a different request body.",
                    [idempotency_field()],
                )
            if order is not None and order.status != PENDING:
                return order
            if order is not None and lapsed and await self.settle_pending(order.id):
                continue  # its owner is gone: finished or undone now, so look again
            if time.monotonic() > deadline:
                left = ((found.claimed_until or now) - now) / 1_000_000
                raise InProgress(
                    "A request with this Idempotency-Key is still in progress.",
                    retry_after=max(1, min(DUPLICATE_RETRY_AFTER, math.ceil(left))),
                )
            await asyncio.sleep(0.05)  # the first request is still placing it

    async def _keyed(self, claims: Claims, wanted: list[Wanted], order_id: str, key: str) -> Order:
        """Place under a claim: renewed while it takes long, released when it fails unsettled
        (a dead process renews nothing, so its claim lapses within the lease)."""
        claim = (claims.sub, key)
        heartbeat = asyncio.create_task(self._renew_forever(claim, order_id))
        try:
            return await self._place(claims, wanted, order_id, claim=claim)
        except ShopError:
            with contextlib.suppress(ShopError):
                async with self.db.transaction() as tx:
                    await idempotency.release(tx, *claim, order_id)
            raise
        finally:
            heartbeat.cancel()

    async def _renew_forever(self, claim: tuple[str, str], order_id: str) -> None:
        while True:
            await asyncio.sleep(self.lease_us / 3_000_000)
            with contextlib.suppress(ShopError):  # the database is down: the lease may lapse
                if not await self._renew(claim, order_id):
                    return

    async def _renew(self, claim: tuple[str, str], order_id: str) -> bool:
        async with self.db.transaction() as tx:
            lease = self.clock() + self.lease_us
            return await idempotency.renew(tx, *claim, order_id, lease)

    async def _place(
        self,
        claims: Claims,
        wanted: list[Wanted],
        order_id: str,
        *,
        claim: tuple[str, str] | None = None,
    ) -> Order:
        keyed = claim is not None
        started = time.monotonic()
        try:
            reservation = await self.stock.reserve(order_id, wanted)
        except BaseException:
            if keyed:
                await self._forget(order_id)
            raise
        await self.fault("reserved")
        try:
            by_product = {line.product_id: line for line in reservation.lines}
            lines = [by_product[w.product_id] for w in wanted]
            order = Order.place(order_id, claims.sub, claims.email or "", lines, self.clock())
            await self._persist(order)
        except Exception:
            await self.undo(order_id, keyed=keyed)
            raise
        await self.fault("persisted")
        # Slow so far (a claim could have lapsed and been taken over while the order was not yet
        # persisted): confirm only while the claim is still this request's.
        slow = time.monotonic() - started > self.lease_us / 2_000_000
        if claim is not None and slow and not await self._renew(claim, order_id):
            await self.undo(order_id, keyed=False)
            raise InProgress("Another request took this Idempotency-Key over.", retry_after=1)
        try:
            await self.stock.confirm(order_id)
        except Rejected:
            await self.undo(order_id, keyed=keyed)
            raise Unavailable("The stock reservation lapsed; please try again.") from None
        except ShopError:
            if await self.undo(order_id, keyed=keyed) is not Undo.CONFIRMED:
                raise  # undone, or unknown until products answers again: recovery settles it
        await self.fault("confirmed")
        return await self.finalize(order_id, order, keyed=keyed) or order

    async def settle_pending(self, order_id: str) -> bool:
        """Finish or drop a pending order nobody works on, as products' reservation says;
        False while that is unknown. Raises Unavailable while products cannot say."""
        reservation = await self.stock.look_up(order_id)
        if reservation is not None and reservation.state == CONFIRMED:
            await self.finalize(order_id)
            return True
        if reservation is None:  # products never held stock for it: nothing to release
            async with self.db.transaction() as tx:
                await store.drop_pending(tx, order_id)
                await idempotency.forget(tx, order_id)
            return True
        return await self.undo(order_id, keyed=True) is Undo.UNDONE

    async def finalize(
        self, order_id: str, placed: Order | None = None, *, keyed: bool = True
    ) -> Order | None:
        """pending -> confirmed, with its event, in one transaction (idempotent). `placed` is the
        pending order as this instance persisted it, which saves reading it back."""
        return await self._finalize((order_id, placed, keyed, telemetry.traceparent()))

    async def _persist_all(self, orders: list[Order]) -> list[None]:
        async with self.db.transaction() as tx:
            await store.insert_pending(tx, orders)
        return [None] * len(orders)

    async def _finalize_all(self, batch: list[Finalize]) -> list[Order | None]:
        async with self.db.transaction() as tx:
            ids = sorted({order_id for order_id, *_ in batch})
            moved = await store.move_all(tx, ids, PENDING, CONFIRMED, self.clock())
            keyed = [order_id for order_id, _, key, _ in batch if key and order_id in moved]
            done: list[Order | None] = []
            events: list[outbox.Event] = []
            for order_id, placed, _, trace in batch:
                if order_id not in moved:  # settled before (or twice in this batch)
                    done.append(await store.get(tx, order_id))
                    continue
                moved.discard(order_id)
                order = placed if placed is not None else await store.get(tx, order_id)
                assert order is not None
                order = replace(order, status=CONFIRMED)
                event = order.confirmed_event()
                events.append(outbox.Event(ORDER_CONFIRMED, SOURCE, order_id, event, trace))
                done.append(order)
            await outbox.add_all(tx, events)
            if keyed:
                await idempotency.settle(tx, keyed)
            return done

    async def undo(self, order_id: str, *, keyed: bool) -> Undo:
        """Release the stock and drop the pending order."""
        try:
            await self.stock.release(order_id)
        except Rejected as exc:
            return Undo.CONFIRMED if exc.extra.get("state") == CONFIRMED else Undo.UNKNOWN
        except (Unavailable, NotFound):
            return Undo.UNKNOWN
        async with self.db.transaction() as tx:
            await store.drop_pending(tx, order_id)
            if keyed:
                await idempotency.forget(tx, order_id)
        return Undo.UNDONE

    async def _forget(self, order_id: str) -> None:
        async with self.db.transaction() as tx:
            await idempotency.forget(tx, order_id)

    async def get(self, order_id: str, claims: Claims) -> Order:
        async with self.db.transaction(readonly=True) as tx:
            order = await store.get(tx, order_id)
        if order is None or not order.visible_to(claims.sub, claims.role):
            raise NotFound("No such order.")
        return order

    async def page(
        self, claims: Claims, after: CursorKey | None, limit: int
    ) -> tuple[list[Order], CursorKey | None]:
        async with self.db.transaction(readonly=True) as tx:
            found = await store.page(tx, claims.sub, after, limit)
        if len(found) <= limit:
            return found, None
        last = found[limit - 1]
        return found[:limit], CursorKey(last.created_us, last.id)

    async def cancel(self, order_id: str, claims: Claims) -> Order:
        """confirmed -> cancelled with its event, in one transaction; then the stock goes back
        (`return_stock`, which marks it returned in a second one). A crash in between leaves a
        cancelled order whose stock `Recovery` returns."""
        async with self.db.transaction() as tx:
            order = await store.get(tx, order_id)
            if order is None or not order.visible_to(claims.sub, claims.role):
                raise NotFound("No such order.")
            if not await store.move(tx, order_id, CONFIRMED, CANCELLED, self.clock()):
                raise Conflict("The order is already cancelled.")
            await outbox.add(tx, ORDER_CANCELLED, SOURCE, order_id, order.cancelled_event())
        await self.fault("cancelled")
        await self.return_stock(order_id)
        return replace(order, status=CANCELLED)

    async def return_stock(self, order_id: str) -> bool:
        """Give a cancelled order's units back (products does it once); recovery retries."""
        try:
            await self.stock.give_back(order_id)
        except (Unavailable, Rejected):
            return False
        except NotFound:
            pass  # nothing was ever reserved under this id: nothing to give back
        async with self.db.transaction() as tx:
            await store.mark_returned(tx, order_id)
        return True


def idempotency_field() -> FieldError:
    return FieldError("Idempotency-Key", "reused with a different request body")
