"""Faults injected into a real `shop up` under a bounded order load, each followed by a
reconciliation from the databases. Asserted strictly: what the databases hold, and that every
error a client sees is a 409/429/503/504 problem+json with Retry-After (or, only while the
whole stack restarts, no answer at all). The figures go to docs/faults.md."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.broker_faults import (
    broker_killed_with_deliveries_pending,
    consumer_stopped_then_dead_letters_replayed,
)
from tests.faults.ledger import Figures, reconcile
from tests.faults.load import Load
from tests.faults.report import RESULTS
from tests.faults.stack import FaultStack
from tests.support.pg_cluster import ThrowawayCluster

# A hang guard, not a deadline: a module's first test also starts its stack (up to 90 s), and a
# fault's own waits (a restart, the reconciliation) are bounded each; on a loaded machine they
# add up past the suite-wide 120 s.
pytestmark = [pytest.mark.faults, pytest.mark.e2e, pytest.mark.timeout(300)]
Fault = Callable[[FaultStack, Load], Awaitable[list[str] | None]]  # notes for the figures
HOLD = 3.0  # seconds a fault lasts
TAIL = 3.0  # seconds of load after it ends


def started(**kw: object) -> Iterator[FaultStack]:
    stack = FaultStack(**kw)  # type: ignore[arg-type]
    try:
        stack.start()
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def single() -> Iterator[FaultStack]:
    yield from started()


@pytest.fixture(scope="module")
def replicated() -> Iterator[FaultStack]:
    yield from started(replicas=("orders=2",))


@pytest.fixture(scope="module")
def short_retries() -> Iterator[FaultStack]:
    """A stack whose Broker retries once, 0.1 s later, giving up on an answer after 1 s."""
    delivery = {"retry": 1, "backoffPolicy": "linear", "backoffDelay": "PT0.1S"}
    yield from started(delivery={**delivery, "timeout": "PT1S", "retryAfterMax": "PT1S"})


@pytest.fixture(scope="module")
def on_postgres() -> Iterator[FaultStack]:
    cluster = ThrowawayCluster()
    try:
        yield from started(cluster=cluster)
    finally:
        cluster.close()


async def exercise(
    stack: FaultStack, scenario: str, fault: Fault, *, cancel_every: int = 0
) -> Figures:
    """Load, the fault (it returns once healed), more load, then the reconciliation."""
    load = Load(stack.url, cancel_every=cancel_every)
    starts = stack.starts
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=stack.url, timeout=20.0, limits=limits) as http:
        await load.arrange(http, products=4, stock=150, customers=4)
        running = asyncio.create_task(load.run(http, stop, workers=4, orders=400))
        try:
            await asyncio.sleep(1.0)
            logged = stack.log_lines()
            notes = await fault(stack, load) or []
            healed_at = load.fault_ended or time.monotonic()
            await asyncio.sleep(TAIL)
            stop.set()
            await running
        finally:
            if not running.done():  # the fault failed: no load outlives its client
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
        logged = stack.log_lines() - logged
    found = await reconcile(stack, load)
    placed = sum(1 for p in load.placements if p.order_id)
    figures = Figures(
        scenario,
        load.answers,
        healed_at,
        found,
        len(load.placements),
        placed,
        logged,
        notes,
        restarted=stack.starts > starts,
    )
    RESULTS.append(figures)
    return figures


def assert_held(figures: Figures) -> None:
    assert {k: v for k, v in figures.invariants.items() if v} == {}
    own, gateway = figures.violations()
    assert own == [], f"{len(own)} answers from the functions break the contract"
    assert gateway == [], f"{len(gateway)} answers from the gateway break the contract"
    if not figures.restarted:
        assert figures.unanswered == 0, f"{figures.unanswered} requests got no answer"
    assert figures.recovered_in is not None, "no order placed after the fault ended"


def signal_each(service: str, sig: signal.Signals, count: int = 1) -> Fault:
    async def fault(stack: FaultStack, load: Load) -> None:
        pids = stack.pids(service)[:count]
        for pid in pids:
            os.kill(pid, sig)
        if sig == signal.SIGSTOP:
            await asyncio.sleep(HOLD)
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        else:  # the supervisor restarts it; the load runs on meanwhile
            await asyncio.sleep(HOLD)

    return fault


async def redis_killed(stack: FaultStack, load: Load) -> None:
    await asyncio.to_thread(stack.redis.stop)
    await asyncio.sleep(HOLD)
    await asyncio.to_thread(stack.redis.start)  # empty: every instance registers again


async def redis_stopped(stack: FaultStack, load: Load) -> None:
    assert stack.redis.process is not None
    stack.redis.process.send_signal(signal.SIGSTOP)
    await asyncio.sleep(HOLD)
    stack.redis.process.send_signal(signal.SIGCONT)


async def sqlite_locked(stack: FaultStack, load: Load) -> None:
    """Another process holds the orders database's write lock past the busy timeout."""
    outside = sqlite3.connect(stack.data_dir / "orders.db", isolation_level=None, timeout=10)
    try:
        outside.execute("BEGIN EXCLUSIVE")  # orders' writes are short: it gets its turn
        try:
            await asyncio.sleep(HOLD + 4.0)  # DB_BUSY_TIMEOUT_SECONDS is 5
        finally:
            outside.execute("ROLLBACK")
    finally:
        outside.close()


async def postgres_restarted(stack: FaultStack, load: Load) -> None:
    assert stack.cluster is not None
    await asyncio.to_thread(stack.cluster.stop)
    await asyncio.sleep(1.0)
    await asyncio.to_thread(stack.cluster.start)


async def stopped_with_orders_in_flight(stack: FaultStack, load: Load) -> None:
    """Ctrl-C while orders are in flight (held in orders by a lock on its database): the
    gateway stops first and waits for them, the functions finish them, then the rest stops;
    each of them is placed. Then `shop up` again on the same data."""
    outside = sqlite3.connect(stack.data_dir / "orders.db", isolation_level=None, timeout=10)
    outside.execute("BEGIN EXCLUSIVE")
    try:
        async with httpx.AsyncClient(base_url=stack.url, timeout=30.0) as http:
            flying = [asyncio.create_task(load.place(http)) for _ in range(3)]
            await asyncio.sleep(1.0)  # they wait on the lock inside orders
            stack.process.send_signal(signal.SIGINT)  # type: ignore[union-attr]
            await asyncio.sleep(0.5)
            outside.execute("ROLLBACK")
            in_flight = await asyncio.gather(*flying)
    finally:
        outside.close()
    await asyncio.to_thread(stack.stop)  # waits for `shop up` to exit
    await asyncio.to_thread(stack.start)
    assert [p.final for p in in_flight] == [201] * 3, [p.final for p in in_flight]


def whole_stack(sig: signal.Signals) -> Fault:
    async def fault(stack: FaultStack, load: Load) -> None:
        await asyncio.to_thread(stack.stop, sig)
        await asyncio.to_thread(stack.start)  # the same data directory and databases

    return fault


@pytest.mark.parametrize(
    ("scenario", "fault"),
    [
        ("orders SIGKILL (1 replica)", signal_each("orders", signal.SIGKILL)),
        ("orders SIGSTOP 3 s (1 replica)", signal_each("orders", signal.SIGSTOP)),
        ("registry Redis SIGKILL, restarted empty", redis_killed),
        ("registry Redis SIGSTOP 3 s", redis_stopped),
        ("SQLite orders.db locked from outside 7 s", sqlite_locked),
        ("whole stack SIGTERM, restarted on its data", whole_stack(signal.SIGTERM)),
        ("Ctrl-C with orders in flight, restarted on its data", stopped_with_orders_in_flight),
        ("whole stack SIGKILL, restarted on its data", whole_stack(signal.SIGKILL)),
    ],
)
async def test_the_shop_survives_a_fault_with_nothing_lost(
    single: FaultStack, scenario: str, fault: Fault
) -> None:
    assert_held(await exercise(single, scenario, fault))


def test_a_sigkill_of_shop_up_alone_takes_its_instances_with_it(
    single: FaultStack,
) -> None:
    """Not one of its children outlives `shop up` (no port, no data dir left held); then it
    starts again on the same data."""
    assert single.process is not None
    children = single.all_pids()
    single.process.kill()
    single.process.wait(10)
    deadline = time.monotonic() + 30.0  # each instance drains as on Ctrl-C, 10 s at most
    while (alive := [pid for pid in children if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive == [], f"instances still running after `shop up` was killed: {alive}"
    single.start()


def _alive(pid: int) -> bool:
    """Is `pid` a process that has not exited (a zombie has: only its parent's reaping is
    left, and init reaps the orphans of a killed `shop up`)?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_a_broker_killed_with_deliveries_pending_loses_no_event(
    single: FaultStack,
) -> None:
    scenario = "broker SIGKILL, deliveries pending (notifications SIGSTOP)"
    fault = broker_killed_with_deliveries_pending
    assert_held(await exercise(single, scenario, fault, cancel_every=5))


@pytest.mark.parametrize(
    ("scenario", "fault"),
    [
        ("orders SIGKILL of 1 of 2 replicas", signal_each("orders", signal.SIGKILL)),
        ("orders SIGSTOP 3 s of 1 of 2 replicas", signal_each("orders", signal.SIGSTOP)),
        ("orders SIGKILL of both replicas", signal_each("orders", signal.SIGKILL, 2)),
    ],
)
async def test_replicated_orders_survive_a_fault_with_nothing_lost(
    replicated: FaultStack, scenario: str, fault: Fault
) -> None:
    assert_held(await exercise(replicated, scenario, fault))


async def test_a_postgresql_restart_under_load_gives_no_500_and_loses_nothing(
    on_postgres: FaultStack,
) -> None:
    assert_held(
        await exercise(on_postgres, "PostgreSQL restart (throwaway cluster)", postgres_restarted)
    )


async def test_dead_letters_of_a_stopped_consumer_are_replayed_once_each(
    short_retries: FaultStack,
) -> None:
    scenario = "notifications SIGSTOP 5 s past the retries, `shop dlq replay`"
    fault = consumer_stopped_then_dead_letters_replayed
    assert_held(await exercise(short_retries, scenario, fault, cancel_every=5))
