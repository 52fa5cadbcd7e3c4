"""Hung instances leave the rotation within seconds, not after the route's timeout.

A call with no answer after `suspect_after` seconds makes its instance suspect: one health
probe (shared by every call waiting on that instance) with a short timeout. An instance that
answers it is merely slow, and its calls wait on. One that does not is ejected at once (its
breaker opens, so it gets only half-open trials from then on) and the calls waiting on it give
up as timeouts: idempotent ones fail over to another instance, the rest get a 504. A stopped
process (SIGSTOP) still completes TCP handshakes from its listen backlog, so only an answer,
not a connection, shows it is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gateway.balancer import Upstream

T = TypeVar("T")
Probe = Callable[[Upstream], Awaitable[bool]]


class Watchdog:
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
        self._probes: dict[str, asyncio.Task[bool]] = {}

    async def watch(self, upstream: Upstream, call: Awaitable[T]) -> T | str:
        """The call's result, or "timeout" when its instance was ejected meanwhile."""
        task = asyncio.ensure_future(call)
        try:
            done, _ = await asyncio.wait({task}, timeout=self.suspect_after)
            if done:
                return task.result()
            probe = self._probe(upstream)
            await asyncio.wait({task, probe}, return_when=asyncio.FIRST_COMPLETED)
            if task.done() or probe.result():
                return await task
        except BaseException:
            task.cancel()
            raise
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return "timeout"

    def _probe(self, upstream: Upstream) -> asyncio.Task[bool]:
        running = self._probes.get(upstream.url)
        if running is None:
            running = asyncio.ensure_future(self._check(upstream))
            self._probes[upstream.url] = running
        return running

    async def _check(self, upstream: Upstream) -> bool:
        try:
            alive = await self.probe(upstream)
        finally:
            self._probes.pop(upstream.url, None)
        if not alive:
            upstream.breaker.eject()
            self.on_eject(upstream)
        return alive
