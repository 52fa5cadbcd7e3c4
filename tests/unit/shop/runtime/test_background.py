from __future__ import annotations

import asyncio
import logging

import pytest

from shop.runtime.background import Background, Factory
from shop.runtime.core import Runtime
from shop.runtime.health import Health
from shop.runtime.metrics import Metrics
from shop.runtime.settings import Settings


async def test_stop_cancels_every_task_newest_first_and_waits_for_each() -> None:
    order: list[str] = []
    background = Background()

    def looping(name: str) -> Factory:
        async def loop() -> None:
            try:
                await asyncio.Event().wait()
            finally:
                order.append(name)

        return loop

    background.start("first", looping("first"))
    background.start("second", looping("second"))
    await asyncio.sleep(0)
    assert background.running() == ["first", "second"]

    await background.stop()

    assert order == ["second", "first"]
    assert background.running() == []


async def test_a_crash_is_logged_once_with_the_tasks_name_and_the_others_keep_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    background = Background()

    async def crash() -> None:
        raise RuntimeError("boom")

    background.start("steady", asyncio.Event().wait)
    background.start("crashing", crash)
    await asyncio.sleep(0.01)

    crashes = [r for r in caplog.records if r.getMessage() == "background task crashed"]
    assert [getattr(r, "task", None) for r in crashes] == ["crashing"]
    assert crashes[0].levelno == logging.ERROR
    assert background.running() == ["steady"]
    await background.stop()


async def test_a_task_that_ignores_its_cancellation_cannot_hang_the_stop() -> None:
    background = Background(grace=0.05)
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    task = background.start("stubborn", stubborn)
    await asyncio.sleep(0)
    await background.stop()

    assert not task.done()
    release.set()
    await task


async def test_the_runtime_stops_its_background_tasks_before_it_closes_pools() -> None:
    settings = Settings.from_environ("orders", {"INSTANCE_ID": "orders-1"})
    runtime = Runtime(settings, Health(), Metrics(settings.service))
    steps: list[str] = []

    async def loop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            steps.append("task stopped")

    async def close_pool() -> None:
        steps.append("pool closed")

    runtime.on_close(close_pool)
    runtime.background("loop", loop)
    await asyncio.sleep(0)
    await runtime.close()

    assert steps == ["task stopped", "pool closed"]
