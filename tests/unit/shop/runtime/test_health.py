from __future__ import annotations

import asyncio

from shop.runtime.health import Health


async def failing() -> None:
    raise ConnectionError("database refused the connection")


async def passing() -> None:
    return None


async def hanging() -> None:
    await asyncio.sleep(10)


async def test_an_instance_is_not_ready_until_start_up_finishes() -> None:
    health = Health()
    assert not (await health.readiness()).ok
    health.mark_running()
    assert (await health.readiness()).ok


async def test_readiness_fails_from_the_moment_shutdown_begins() -> None:
    health = Health()
    health.mark_running()
    health.begin_shutdown()
    verdict = await health.readiness()
    assert not verdict.ok
    assert verdict.error == "draining"


async def test_a_failing_check_names_itself_in_the_error() -> None:
    health = Health()
    health.add_check("database", failing)
    health.add_check("cache", passing)
    verdict = await health.liveness()
    assert not verdict.ok
    assert verdict.error == "health check 'database' failed: database refused the connection"


async def test_a_check_that_hangs_times_out() -> None:
    health = Health(timeout=0.05)
    health.add_check("slow", hanging)
    verdict = await health.checks()
    assert not verdict.ok
    assert "timed out" in (verdict.error or "")


async def test_a_dependency_check_gates_readiness_but_not_liveness() -> None:
    health = Health()
    health.mark_running()
    health.add_check("database", failing, liveness=False)
    assert (await health.liveness()).ok
    assert not (await health.readiness()).ok
    assert not (await health.checks()).ok
