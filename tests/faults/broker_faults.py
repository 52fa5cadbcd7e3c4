"""Faults of the event path: the broker killed with deliveries pending, and a stopped consumer
whose events become dead letters that `shop dlq replay` sends again. Each returns notes for the
figures; what it must find on the way (deliveries pending, dead letters made) it asserts, as a
fault that did not happen proves nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time

from tests.faults.load import Load
from tests.faults.stack import FaultStack

CONSUMER = "notifications"  # the Triggers' subscriber, and under `shop up` the dead-letter store
PILE_UP = 1.5  # seconds the consumer is stopped before the broker is killed
NO_LONGER_THAN = 4.0  # seconds after the kill the consumer is continued, broker back or not
DEAD_HOLD = 5.0  # seconds the consumer is stopped to make dead letters (liveness kills at ~7)


async def broker_killed_with_deliveries_pending(stack: FaultStack, load: Load) -> list[str]:
    """notifications stopped, so the broker holds deliveries; a SIGKILL of the broker; `shop
    up`'s supervisor starts it again, and it delivers what its journal holds."""
    consumer, _ = stack.instance(CONSUMER)
    broker, _ = stack.instance("broker")
    os.kill(consumer, signal.SIGSTOP)
    try:
        await asyncio.sleep(PILE_UP)
        pending, _ = await asyncio.to_thread(stack.broker_backlog)
        os.kill(broker, signal.SIGKILL)
        back = await asyncio.to_thread(stack.wait_restarted, "broker", broker, NO_LONGER_THAN)
    finally:
        with contextlib.suppress(ProcessLookupError):  # liveness may have restarted it
            os.kill(consumer, signal.SIGCONT)
    if back is None:
        back = await asyncio.to_thread(stack.wait_restarted, "broker", broker, 30.0)
        back = None if back is None else back + NO_LONGER_THAN
    assert pending > 0, "no delivery was pending when the broker was killed"
    assert back is not None, "`shop up` did not start the killed broker again"
    return [
        f"{pending} deliveries pending in the broker's journal at the SIGKILL;"
        f" the broker answered again {back:.1f} s after it"
    ]


async def consumer_stopped_then_dead_letters_replayed(stack: FaultStack, load: Load) -> list[str]:
    """notifications stopped past the Broker's (short) retry policy, so events become dead
    letters (parked by the broker while their store, notifications too, is stopped); then it is
    continued, the letters reach the store, and `shop dlq replay` sends them again."""
    consumer, _ = stack.instance(CONSUMER)
    os.kill(consumer, signal.SIGSTOP)
    try:
        await asyncio.sleep(DEAD_HOLD)
    finally:
        os.kill(consumer, signal.SIGCONT)
    load.fault_ended = time.monotonic()  # what follows is the recovery, and then the replay
    during = await asyncio.to_thread(stack.broker_accepted)
    settled = await asyncio.to_thread(_settled, stack, during, 30.0)
    assert settled, f"the broker still holds {stack.broker_backlog(during)} (pending, parked)"
    before = await asyncio.to_thread(_letters, stack, "--all")
    pending = [letter for letter in before if not letter["replayed"]]
    assert pending, "no event became a dead letter while notifications was stopped"
    inbox = await asyncio.to_thread(_inbox, stack, {str(letter["event_id"]) for letter in pending})
    replay = await asyncio.to_thread(stack.shop, "dlq", "replay")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    after = {letter["id"]: letter for letter in await asyncio.to_thread(_letters, stack, "--all")}
    unreplayed = [letter["id"] for letter in pending if not after[letter["id"]]["replayed"]]
    assert unreplayed == [], f"`shop dlq replay` left {unreplayed}"
    return [
        f"{len(pending)} dead letters, {len(pending) - len(inbox)} of them not in the inbox"
        f" before `shop dlq replay` ({replay.stdout.strip()})"
    ]


def _settled(stack: FaultStack, upto: int, within: float) -> bool:
    """Has the broker delivered, or handed to the dead-letter store, every delivery up to
    number `upto` (none pending, none parked) within `within` seconds?"""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if stack.broker_backlog(upto) == (0, 0):
            return True
        time.sleep(0.5)
    return False


def _letters(stack: FaultStack, *flags: str) -> list[dict[str, object]]:
    listed = stack.shop("dlq", "list", "--json", *flags)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]


def _inbox(stack: FaultStack, events: set[str]) -> set[str]:
    """Which of `events` are in notifications' inbox."""
    import sqlite3

    database = sqlite3.connect(stack.data_dir / "notifications.db", timeout=10)
    try:
        rows = database.execute("SELECT event_id FROM notifications").fetchall()
    finally:
        database.close()
    return {row[0] for row in rows} & events
