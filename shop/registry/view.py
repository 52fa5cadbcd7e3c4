"""A consumer's cached view of the registry: routing reads memory, never Redis.

The view refreshes on every change published by the registry and on a short period (which also
catches instances that expired without a word). While Redis is down it keeps serving the last
known view, says so once in the logs, and sets `registry_view_stale`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from types import MappingProxyType

from shop.registry.store import CHANNEL, Instance, Registry
from shop.runtime.background import Background
from shop.runtime.metrics import Metrics
from shop.runtime.retry import Backoff, Retries

log = logging.getLogger("shop.registry.store")
EMPTY: tuple[Instance, ...] = ()
_RECONNECT = Backoff(first=0.1, cap=5.0)  # the listener's waits between reconnects


class RegistryView:
    def __init__(
        self,
        registry: Registry,
        *,
        refresh: float = 1.0,
        on_change: Callable[[RegistryView], None] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.registry = registry
        self.refresh = refresh
        self.on_change = on_change
        self.metrics = metrics
        self.stale = False
        self.version = 0
        self._all: dict[str, tuple[Instance, ...]] = {}
        self._healthy: dict[str, tuple[Instance, ...]] = {}
        self._wake = asyncio.Event()
        # A pub/sub connection torn down mid-read can be slow to close: never hang shutdown.
        self._tasks = Background(grace=2.0)

    def healthy(self, service: str) -> tuple[Instance, ...]:
        """The healthy instances of `service`, from memory."""
        return self._healthy.get(service, EMPTY)

    def all(self) -> MappingProxyType[str, tuple[Instance, ...]]:
        return MappingProxyType(self._all)

    async def start(self) -> None:
        await self.refresh_now()
        self._tasks.start("registry-view-poll", self._poll)
        self._tasks.start("registry-view-listen", self._listen)

    async def stop(self) -> None:
        await self._tasks.stop()

    async def refresh_now(self) -> bool:
        try:
            snapshot = await self.registry.snapshot()
        except Exception as exc:  # noqa: BLE001 - any Redis failure means: keep the last view
            self._mark_stale(exc)
            return False
        if self.stale:
            log.info("registry reachable again; cached view refreshed")
            self.stale = False
            self._changed()
        self._install(snapshot)
        return True

    def _install(self, snapshot: dict[str, list[Instance]]) -> None:
        everything = {name: tuple(found) for name, found in snapshot.items()}
        if everything == self._all:
            return
        self._all = everything
        self._healthy = {
            name: tuple(i for i in found if i.healthy) for name, found in everything.items()
        }
        self.version += 1
        self._changed()

    def _mark_stale(self, exc: BaseException) -> None:
        if not self.stale:
            log.warning(
                "registry unreachable; serving the last known view", extra={"error": str(exc)}
            )
        self.stale = True
        self._changed()

    def _changed(self) -> None:
        if self.metrics is not None:
            own = self.metrics.service
            self.metrics.registry_stale.labels(own).set(1 if self.stale else 0)
            for name, found in self._healthy.items():
                self.metrics.registry_instances.labels(own, name).set(len(found))
        if self.on_change is not None:
            self.on_change(self)

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.refresh):
                    await self._wake.wait()
            self._wake.clear()
            await self.refresh_now()

    async def _listen(self) -> None:
        retries = Retries(_RECONNECT)
        while True:
            try:
                async with self.registry.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._wake.set()  # catch up on whatever changed while unsubscribed
                    retries.succeeded()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - reconnect with backoff; the poll keeps the view fresh
                await retries.failed()
