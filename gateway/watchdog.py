"""Hung instances leave the rotation within seconds, not after the route's timeout.

A call with no answer after `suspect_after` seconds makes its instance suspect: one health
probe (shared by every call waiting on that instance) with a short timeout. An instance that
answers it is merely slow, and its calls wait on. One that does not is ejected at once (its
breaker opens, so it gets only half-open trials from then on) and the calls waiting on it give
up as timeouts: idempotent ones fail over to another instance, the rest get a 504. A stopped
process (SIGSTOP) still completes TCP handshakes from its listen backlog, so only an answer,
not a connection, shows it is alive.

Calls are watched by one periodic sweep (every quarter of `suspect_after`, only while calls
are out), not a timer each: a call costs a clock read and a dict entry, and becomes suspect
between `suspect_after` and 1.25 x `suspect_after` after it started.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from gateway.balancer import Upstream

T = TypeVar("T")
Probe = Callable[[Upstream], Awaitable[bool]]


class Watchdog:
    """Costs a dict entry per call (no timer, no extra task): only a suspect call involves
    more."""

    def __init__(
        self,
        probe: Probe,
        *,
        suspect_after: float,
        on_eject: Callable[[Upstream], None] = lambda _: None,
    ) -> None:
        self.probe = probe
        self.suspect_after = suspect_after
        self.on_eject = on_eject
        self._period = suspect_after / 4
        # Calls not yet suspect, oldest first (a call enters when it starts): when each began.
        self._calls: dict[asyncio.Task[Any], tuple[Upstream, float]] = {}
        self._sweeping: asyncio.TimerHandle | None = None
        self._probes: dict[str, asyncio.Task[bool]] = {}
        self._waiting: dict[str, set[asyncio.Task[Any]]] = {}
        self._given_up: set[asyncio.Task[Any]] = set()

    async def watch(self, upstream: Upstream, call: Awaitable[T]) -> T | Literal["timeout"]:
        """The call's result, or "timeout" when its instance was ejected meanwhile."""
        task = asyncio.current_task()
        assert task is not None
        self._calls[task] = (upstream, time.monotonic())
        if self._sweeping is None:
            self._sweeping = asyncio.get_running_loop().call_later(self._period, self._sweep)
        try:
            return await call
        except asyncio.CancelledError:
            if task not in self._given_up:
                raise
            self._given_up.discard(task)
            task.uncancel()
            return "timeout"
        finally:
            if self._calls.pop(task, None) is None:  # it was suspect: no longer waiting
                waiting = self._waiting.get(upstream.url)
                if waiting is not None:
                    waiting.discard(task)

    def _sweep(self) -> None:
        self._sweeping = None
        due = time.monotonic() - self.suspect_after
        suspects = []
        for task, (upstream, started) in self._calls.items():
            if started > due:
                break  # the rest started later still
            suspects.append((task, upstream))
        for task, upstream in suspects:
            del self._calls[task]
            self._suspect(upstream, task)
        if self._calls:
            self._sweeping = asyncio.get_running_loop().call_later(self._period, self._sweep)

    def _suspect(self, upstream: Upstream, task: asyncio.Task[Any]) -> None:
        self._waiting.setdefault(upstream.url, set()).add(task)
        if upstream.url not in self._probes:
            self._probes[upstream.url] = asyncio.ensure_future(self._check(upstream))

    async def _check(self, upstream: Upstream) -> bool:
        try:
            alive = await self.probe(upstream)
        finally:
            self._probes.pop(upstream.url, None)
        waiting = self._waiting.pop(upstream.url, set())
        if not alive:
            upstream.breaker.eject()
            self.on_eject(upstream)
            for task in waiting:  # they give up as timeouts (see `watch`)
                self._given_up.add(task)
                task.cancel()
        return alive
