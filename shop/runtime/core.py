"""The per-instance runtime: health, metrics, the registry agent and the shutdown sequence."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from shop.runtime.background import Background, Factory
from shop.runtime.health import Health
from shop.runtime.metrics import Metrics
from shop.runtime.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from shop.registry.agent import RegistryAgent
    from shop.registry.view import RegistryView

log = logging.getLogger("shop.runtime.core")
Hook = Callable[[], Awaitable[object]]


class Runtime:
    """What a service instance owns for its whole life. Built only by `shop.runtime.service`."""

    def __init__(self, settings: Settings, health: Health, metrics: Metrics) -> None:
        self.settings = settings
        self.health = health
        self.metrics = metrics
        self.redis: Redis | None = None
        self.agent: RegistryAgent | None = None
        self.closers: list[Hook] = []
        self.flushers: list[Hook] = []
        self._drained = False
        self._view: RegistryView | None = None
        self._background = Background()

    def background(self, name: str, factory: Factory) -> None:
        """Run `factory()` in the background from now on; at shutdown it is cancelled (and
        awaited) after in-flight requests finish and before the pools close."""
        self._background.start(name, factory)

    def on_close(self, hook: Hook) -> None:
        """Run `hook` at shutdown, after in-flight requests finish (close pools here)."""
        self.closers.append(hook)

    def on_flush(self, hook: Hook) -> None:
        """Run `hook` last at shutdown (flush telemetry here)."""
        self.flushers.append(hook)

    async def registry_view(self) -> RegistryView | None:
        """The instance's one cached view of the registry, started on first use and stopped at
        shutdown. None when the service runs without Redis."""
        if self._view is None and self.redis is not None:
            from shop.registry.store import Registry
            from shop.registry.view import RegistryView

            view = RegistryView(
                Registry(self.redis), refresh=self.settings.registry_refresh, metrics=self.metrics
            )
            await view.start()
            self._view = view
            self.closers.insert(0, view.stop)  # closed after everything that routes through it
        return self._view

    async def drain(self) -> None:
        """Steps 1 and 2 of shutdown: mark not ready, then leave the registry. Idempotent."""
        if self._drained:
            return
        self._drained = True
        self.health.begin_shutdown()
        log.info("shutdown: not ready")
        if self.agent is not None:
            await self.agent.stop()
        if self.settings.drain_delay:
            await asyncio.sleep(self.settings.drain_delay)

    async def close(self) -> None:
        """Steps 4 and 5: stop background tasks, close pools (newest first), flush telemetry."""
        await self.drain()
        await self._background.stop()
        for hook in reversed(self.closers):
            await _quietly(hook, "close")
        for hook in self.flushers:
            await _quietly(hook, "flush")
        log.info("shutdown: complete")


async def _quietly(hook: Hook, step: str) -> None:
    try:
        await hook()
    except Exception:
        log.exception("shutdown step failed", extra={"step": step})
