"""The reconciliation after a fault, from the databases themselves, and the figures of a run."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from shop.db.attach import open_database
from tests.faults.load import Answer, Load
from tests.faults.stack import FaultStack

CONFIRMED_EVENT = "shop.order.confirmed.v1"
CANCELLED_EVENT = "shop.order.cancelled.v1"
ORDER_EVENTS = {CONFIRMED_EVENT, CANCELLED_EVENT}


async def _rows(url: str, sql: str) -> list[dict[str, object]]:
    database = await open_database(url, pool_size=1)
    try:
        async with database.transaction(readonly=True) as tx:
            return [dict(row) for row in await tx.fetch(sql)]
    finally:
        await database.close()


async def invariants(stack: FaultStack, load: Load) -> dict[str, str]:
    """Each invariant: "" when it holds, else what breaks it."""
    products, orders, notes = (
        stack.database_url(s) for s in ("products", "orders", "notifications")
    )
    shelf = {r["id"]: r["stock"] for r in await _rows(products, "SELECT id, stock FROM products")}
    lines = await _rows(
        products,
        "SELECT l.product_id, l.quantity, r.order_id, r.state, r.expires_us"
        " FROM reservation_lines l JOIN reservations r ON r.order_id = l.order_id",
    )
    placed = {r["id"]: r["status"] for r in await _rows(orders, "SELECT id, status FROM orders")}
    keys = await _rows(orders, "SELECT user_id, key, order_id FROM idempotency_keys")
    outbox = await _rows(orders, "SELECT id, type, subject FROM outbox")
    registered = await _rows(stack.database_url("users"), "SELECT id FROM outbox")
    inbox = [r["event_id"] for r in await _rows(notes, "SELECT event_id FROM notifications")]
    dead = await _rows(notes, "SELECT event_id, replayed_us FROM dead_letters")
    found: dict[str, str] = {}

    taken: Counter[object] = Counter()
    for line in lines:
        if line["state"] in {"held", "confirmed"}:
            taken[line["product_id"]] += int(str(line["quantity"]))
    found["stock conserved"] = "; ".join(
        f"{pid}: {initial} != {shelf.get(pid)} + {taken[pid]}"
        for pid, initial in load.products.items()
        if initial != int(str(shelf.get(pid))) + taken[pid]
    )

    confirmed = {oid for oid, status in placed.items() if status == "confirmed"}
    cancelled = {oid for oid, status in placed.items() if status == "cancelled"}
    asked = {p.order_id for p in load.placements if p.cancelled}
    by_key = {(k["user_id"], k["key"]): k["order_id"] for k in keys}
    keyed = Counter(k["order_id"] for k in keys)
    sold = {line["order_id"] for line in lines if line["state"] == "confirmed"}
    problems = [
        f"key {p.key[:8]} got {p.order_id} but holds {by_key.get((p.user, p.key))}"
        for p in load.placements
        if p.order_id
        and (by_key.get((p.user, p.key)) != p.order_id or p.order_id not in confirmed | cancelled)
    ]
    problems += [
        f"placed {oid} has {keyed[oid]} keys" for oid in confirmed | cancelled if keyed[oid] != 1
    ]
    problems += [f"sold, no order: {oid}" for oid in sold - confirmed]
    problems += [f"order, not sold: {oid}" for oid in confirmed - sold]
    problems += [f"cancelled, nobody asked: {oid}" for oid in cancelled - asked]
    problems += [f"asked to cancel, not cancelled: {oid}" for oid in asked - cancelled]
    problems += [f"still pending: {oid}" for oid, status in placed.items() if status == "pending"]
    found["one order per key, none lost"] = "; ".join(problems[:5])

    now_us = time.time_ns() // 1000
    late = {
        line["order_id"]
        for line in lines
        if line["state"] == "held" and int(str(line["expires_us"])) < now_us - 2_000_000
    }
    found["no hold past expiry"] = f"{len(late)} held past expiry" if late else ""

    found["one inbox row per confirmed or cancelled order"] = "; ".join(
        delivery_problems(outbox, confirmed, cancelled, inbox, dead)[:5]
    )
    events = {r["id"] for r in outbox} | {r["id"] for r in registered}
    delivered = set(inbox)
    problems = [
        f"dead letter {d['event_id']} is no event of the shop's"
        for d in dead
        if d["event_id"] not in events
    ]
    problems += [
        f"dead letter {d['event_id']} replayed, not in the inbox"
        for d in dead
        if d["replayed_us"] is not None and d["event_id"] not in delivered
    ]
    found["dead letters accounted for"] = "; ".join(problems[:5])
    return found


def delivery_problems(
    outbox: list[dict[str, object]],
    confirmed: set[object],
    cancelled: set[object],
    inbox: list[object],
    dead: list[dict[str, object]],
) -> list[str]:
    """Each order's events (confirmed: one confirmed event; cancelled: one confirmed and one
    cancelled), each of them in the inbox exactly once, or in none and a dead letter waiting for
    its replay. A dead letter of an event also in the inbox (a delivery that timed out but
    landed) is no duplicate: the inbox dedupes on the event, so its replay changes nothing."""
    per_order = Counter((r["subject"], r["type"]) for r in outbox)
    wanted = [(oid, CONFIRMED_EVENT) for oid in confirmed | cancelled]
    wanted += [(oid, CANCELLED_EVENT) for oid in cancelled]
    problems = [
        f"{oid}: {per_order[oid, kind]} {kind}" for oid, kind in wanted if per_order[oid, kind] != 1
    ]
    rows = Counter(inbox)
    waiting = {d["event_id"] for d in dead if d["replayed_us"] is None}
    for r in outbox:
        if r["type"] not in ORDER_EVENTS:
            continue
        if rows[r["id"]] > 1:
            problems.append(f"event {r['id']} in the inbox {rows[r['id']]}x")
        elif rows[r["id"]] == 0 and r["id"] not in waiting:
            problems.append(f"event {r['id']} in no inbox row and no dead letter")
    return problems


async def reconcile(stack: FaultStack, load: Load, within: float = 60.0) -> dict[str, str]:
    """The invariants once they hold (recovery, expiry and delivery take a moment), or as
    they stand when `within` seconds have passed."""
    deadline = time.monotonic() + within
    while True:
        found = await invariants(stack, load)
        if not any(found.values()) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(1.0)


@dataclass
class Figures:
    scenario: str
    answers: list[Answer]
    healed_at: float | None
    invariants: dict[str, str]
    keys: int = 0
    placed: int = 0
    log_lines: int = 0
    notes: list[str] = field(default_factory=list)
    restarted: bool = False  # the fault took the whole stack down and started it again

    @property
    def statuses(self) -> Counter[int]:
        return Counter(a.status for a in self.answers)

    @property
    def worst_latency(self) -> float:
        return max((a.seconds for a in self.answers), default=0.0)

    @property
    def recovered_in(self) -> float | None:
        """From the fault's end to the first order placed by a request sent after it."""
        if self.healed_at is None:
            return None
        after = [
            a.started + a.seconds
            for a in self.answers
            if a.status == 201 and a.started >= self.healed_at
        ]
        return min(after) - self.healed_at if after else None

    @property
    def unanswered(self) -> int:
        """Requests with no HTTP answer (refused, reset, timed out)."""
        return sum(1 for a in self.answers if a.status == 0)

    def violations(self) -> tuple[list[Answer], list[Answer]]:
        """Error answers that break the contract: (the functions' own: a 500; the others: a
        502, or a 409/429/503/504 without Retry-After or problem+json). The functions' answers
        pass the gateway unchanged, so a 500 is theirs."""
        own: list[Answer] = []
        gateway: list[Answer] = []
        for a in self.answers:
            if a.status < 400 or a.settles or a.status in {400, 401, 403, 404, 422}:
                continue
            if a.status == 500:
                own.append(a)
            elif a.status not in {409, 429, 503, 504} or not (a.retry_after and a.problem):
                gateway.append(a)
        return own, gateway
