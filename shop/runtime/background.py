"""The one way to run background loops (heartbeats, sweeps, listeners): start each by name,
stop them all at once, newest first, each cancelled and awaited for at most `grace` seconds.
A loop that crashes is logged once, with its name; the others keep running."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("shop.runtime.background")
Factory = Callable[[], Coroutine[Any, Any, object]]


class Background:
    def __init__(self, *, grace: float = 5.0) -> None:
        self.grace = grace
        self._tasks: list[asyncio.Task[object]] = []

    def start(self, name: str, factory: Factory) -> asyncio.Task[object]:
        task = asyncio.create_task(factory(), name=name)
        task.add_done_callback(_crashed)
        self._tasks.append(task)
        return task

    def running(self) -> list[str]:
        return [t.get_name() for t in self._tasks if not t.done()]

    async def stop(self) -> None:
        """Cancel every task, newest first, and wait (bounded: a task that ignores its
        cancellation, say a connection slow to close, never hangs shutdown). Idempotent."""
        tasks, self._tasks = self._tasks, []
        for task in reversed(tasks):
            task.cancel()
            await asyncio.wait({task}, timeout=self.grace)
            if not task.done():
                log.warning("background task did not stop in time", extra={"task": task.get_name()})


def _crashed(task: asyncio.Task[object]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error(
            "background task crashed",
            exc_info=(type(exc), exc, exc.__traceback__),
            extra={"task": task.get_name()},
        )
