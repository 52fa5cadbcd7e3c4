from __future__ import annotations

import asyncio

from gateway.balancer import Upstream
from gateway.breaker import CircuitBreaker, State
from gateway.watchdog import Watchdog
from shop.registry.store import Instance


def _upstream() -> Upstream:
    instance = Instance(service="products", instance_id="p0", address="http://127.0.0.1:1")
    return Upstream(instance, CircuitBreaker())


async def _answer_after(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "answer"


async def test_a_quick_answer_needs_no_probe() -> None:
    probes: list[Upstream] = []

    async def probe(upstream: Upstream) -> bool:
        probes.append(upstream)
        return True

    watchdog = Watchdog(probe, suspect_after=1.0)

    assert await watchdog.watch(_upstream(), _answer_after(0)) == "answer"
    assert probes == []


async def test_a_slow_call_on_a_live_instance_waits_on() -> None:
    async def alive(_: Upstream) -> bool:
        return True

    upstream = _upstream()
    watchdog = Watchdog(alive, suspect_after=0.01)

    assert await watchdog.watch(upstream, _answer_after(0.1)) == "answer"
    assert upstream.breaker.state is State.CLOSED


async def test_calls_on_a_hung_instance_give_up_and_it_is_ejected_after_one_probe() -> None:
    probes = 0
    ejected: list[Upstream] = []

    async def hung(_: Upstream) -> bool:
        nonlocal probes
        probes += 1
        await asyncio.sleep(0.05)
        return False

    upstream = _upstream()
    watchdog = Watchdog(hung, suspect_after=0.01, on_eject=ejected.append)
    waiting = [watchdog.watch(upstream, _answer_after(60)) for _ in range(3)]

    assert await asyncio.gather(*waiting) == ["timeout"] * 3
    assert probes == 1  # shared by every call waiting on the instance
    assert ejected == [upstream]
    assert upstream.breaker.state is State.OPEN
