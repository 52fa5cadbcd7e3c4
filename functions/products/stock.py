"""Stock reservations for orders: reserve all-or-nothing, then confirm, release, expire or
return. Each step is one transaction; a reservation is keyed by its order id, so every step is
idempotent, and held reservations expire on their own, so a crash between steps never leaks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from functions.products import ledger
from functions.products.model import (
    CONFIRMED,
    EXPIRED,
    HELD,
    RELEASED,
    RETURNED,
    Line,
    Reservation,
    ReservationState,
    ReservedLine,
)
from shop.db import Database, Transaction
from shop.runtime.clock import now_us
from shop.runtime.errors import Conflict, FieldError, InvalidInput, NotFound, ShopError


class OutOfStock(Conflict):
    title = "Out of stock"


class _Refused(Exception):
    """A line could not be taken: roll the whole reservation back."""


class StockService:
    def __init__(
        self, db: Database, *, ttl_seconds: float, clock: Callable[[], int] = now_us
    ) -> None:
        self.db = db
        self.ttl_us = int(ttl_seconds * 1_000_000)
        self.clock = clock

    async def reserve(self, order_id: str, lines: list[Line]) -> Reservation:
        try:
            return await self._reserve(order_id, lines)
        except OutOfStock:
            # Lazy expiry: holds past their time count as released, so give them back (no
            # sweeper ran while products was at zero) and try once more.
            if not await self.expire_due():
                raise
            return await self._reserve(order_id, lines)

    async def _reserve(self, order_id: str, lines: list[Line]) -> Reservation:
        ordered = sorted(lines, key=lambda line: line.product_id)  # one lock order: no deadlocks
        if len({line.product_id for line in ordered}) != len(ordered):
            raise InvalidInput("Each product may appear once.", [FieldError("items", "duplicate")])
        now = self.clock()
        try:
            async with self.db.transaction() as tx:
                if not await ledger.create(tx, order_id, now + self.ttl_us, now):
                    existing = await ledger.get(tx, order_id)
                    assert existing is not None
                    if not existing.same_request(ordered):
                        raise Conflict("This order id was reserved with other items.")
                    return existing
                taken = []
                for line in ordered:
                    got = await ledger.take(tx, line, now)
                    if got is None:
                        raise _Refused
                    taken.append(got)
                await ledger.add_lines(tx, [(order_id, reserved) for reserved in taken])
                return Reservation(order_id, HELD, now + self.ttl_us, tuple(taken))
        except _Refused:
            await self._explain(ordered)
            raise  # pragma: no cover - _explain always raises

    async def reserve_all(
        self, requests: list[tuple[str, list[Line]]]
    ) -> list[Reservation | ShopError]:
        """Reserve for many orders in one transaction, each order all-or-nothing; each its
        reservation or the error its own `reserve` would raise. Rows are taken in one product
        order across the batch (no deadlocks); an order refused midway gets the units it took
        back in the same transaction. The refused, the already reserved and the repeated go
        through `reserve` afterwards, so they get its exact answer."""
        now = self.clock()
        first: dict[str, int] = {}
        for index, (order_id, lines) in enumerate(requests):
            unique = len({line.product_id for line in lines}) == len(lines)
            if unique and lines:
                first.setdefault(order_id, index)
        taken: dict[int, list[ReservedLine]] = {}
        async with self.db.transaction() as tx:
            new = await ledger.create_all(tx, sorted(first), now + self.ttl_us, now)
            batch = [i for order_id, i in first.items() if order_id in new]
            refused = await _take_all(tx, [(i, requests[i][1]) for i in batch], taken, now)
            if refused:
                await ledger.drop_all(tx, [requests[i][0] for i in refused])
            if taken:
                await ledger.add_lines(
                    tx,
                    [(requests[i][0], line) for i in sorted(taken) for line in taken[i]],
                )
        answers: list[Reservation | ShopError] = []
        for index, (order_id, lines) in enumerate(requests):
            if index in taken:
                mine = tuple(sorted(taken[index], key=lambda line: line.product_id))
                answers.append(Reservation(order_id, HELD, now + self.ttl_us, mine))
                continue
            try:
                answers.append(await self.reserve(order_id, lines))
            except ShopError as exc:
                answers.append(exc)
        return answers

    async def _explain(self, lines: list[Line]) -> None:
        async with self.db.transaction(readonly=True) as tx:
            unknown, short = await ledger.shortages(tx, lines)
        if unknown:
            raise InvalidInput(
                "Some products do not exist.",
                [FieldError("product_id", f"unknown product {pid}") for pid in unknown],
            )
        raise OutOfStock(
            "Not enough stock for some items.",
            extra={
                "short": [
                    {"product_id": s.product_id, "requested": s.requested, "available": s.available}
                    for s in short
                ]
            },
        )

    async def confirm(self, order_id: str) -> Reservation:
        """Held and within its time: confirmed. A hold past its time is expired, never
        confirmed (its units go back now); any other state refuses the step."""
        now = self.clock()
        async with self.db.transaction() as tx:
            moved = bool(await ledger.confirm_held(tx, [order_id], now))
            found = await ledger.get(tx, order_id)
        if found is None:
            raise NotFound("No such reservation.")
        if not moved and found.state == HELD:  # not confirmed, so past its time
            await self.expire_due()
            found = lapsed(found, now)
        if not moved and found.state != CONFIRMED:
            raise Conflict(
                f"The reservation is {found.state}; it cannot become {CONFIRMED}.",
                extra={"state": found.state},
            )
        return found

    async def confirm_all(self, order_ids: list[str]) -> dict[str, ReservationState | None]:
        """Confirm many reservations in one transaction (orders batches the confirms of the
        orders it is placing). Each id's state afterwards: confirmed (now or before) is done,
        any other state refused the step, None: no such reservation."""
        unique = sorted(set(order_ids))  # one lock order: no deadlocks between batches
        now = self.clock()
        async with self.db.transaction() as tx:
            found: dict[str, ReservationState] = dict.fromkeys(
                await ledger.confirm_held(tx, unique, now), CONFIRMED
            )
            rest = [order_id for order_id in unique if order_id not in found]
            if rest:
                found.update(await ledger.states(tx, rest))
        lapsed = [order_id for order_id, state in found.items() if state == HELD]
        if lapsed:  # held yet not confirmed: past expiry, so expired (give the units back now)
            found.update(dict.fromkeys(lapsed, EXPIRED))
            await self.expire_due()
        return {order_id: found.get(order_id) for order_id in unique}

    async def release(self, order_id: str) -> Reservation:
        return await self._move(order_id, HELD, RELEASED, done={RELEASED, EXPIRED})

    async def give_back(self, order_id: str) -> Reservation:
        """A cancelled order's units return to the shelf, exactly once."""
        return await self._move(order_id, CONFIRMED, RETURNED, done={RETURNED})

    async def get(self, order_id: str) -> Reservation:
        async with self.db.transaction(readonly=True) as tx:
            found = await ledger.get(tx, order_id)
        if found is None:
            raise NotFound("No such reservation.")
        return lapsed(found, self.clock())

    async def expire_due(self, limit: int = 100) -> int:
        """Expire held reservations past their time; how many were expired."""
        now = self.clock()
        expired = 0
        async with self.db.transaction() as tx:
            for order_id in await ledger.due(tx, now, limit):
                if await ledger.move(tx, order_id, HELD, EXPIRED, now):
                    await ledger.restock(tx, order_id, now)
                    expired += 1
        return expired

    async def _move(
        self,
        order_id: str,
        source: ReservationState,
        target: ReservationState,
        *,
        done: set[ReservationState],
    ) -> Reservation:
        now = self.clock()
        async with self.db.transaction() as tx:
            moved = await ledger.move(tx, order_id, source, target, now)
            if moved and target in {RELEASED, EXPIRED, RETURNED}:
                await ledger.restock(tx, order_id, now)
            found = await ledger.get(tx, order_id)
        if found is None:
            raise NotFound("No such reservation.")
        if not moved and found.state not in done:
            raise Conflict(
                f"The reservation is {found.state}; it cannot become {target}.",
                extra={"state": found.state},
            )
        return found


async def _take_all(
    tx: Transaction,
    requests: list[tuple[int, list[Line]]],
    taken: dict[int, list[ReservedLine]],
    now: int,
) -> set[int]:
    """Take the lines of many requests (index, lines), product by product in id order (one
    lock order), each request all-or-nothing: what it took goes into `taken[index]`; which
    requests were refused (what they had taken is back on the shelf). The lines of one product
    are taken with one statement when the shelf has them all, else one by one."""
    by_product: dict[str, list[tuple[int, Line]]] = {}
    for index, lines in requests:
        for line in lines:
            by_product.setdefault(line.product_id, []).append((index, line))
    refused: set[int] = set()
    for product_id in sorted(by_product):
        wanted = [(index, line) for index, line in by_product[product_id] if index not in refused]
        if len(wanted) > 1:
            total = sum(line.quantity for _, line in wanted)
            got = await ledger.take(tx, Line(product_id, total), now)
            if got is not None:
                for index, line in wanted:
                    mine = dataclasses.replace(got, quantity=line.quantity)
                    taken.setdefault(index, []).append(mine)
                continue
        for index, line in wanted:  # one at a time: who is refused is exactly as if alone
            if index in refused:
                continue
            got = await ledger.take(tx, line, now)
            if got is None:
                refused.add(index)
                for back in taken.pop(index, []):
                    await ledger.put_back(tx, back, now)
            else:
                taken.setdefault(index, []).append(got)
    return refused


def lapsed(reservation: Reservation, now: int) -> Reservation:
    """As read: a hold past its time counts as expired, swept or not (products may have been at
    zero since; the next reservation or sweep gives the units back)."""
    if reservation.state == HELD and reservation.expires_us <= now:
        return dataclasses.replace(reservation, state=EXPIRED)
    return reservation
