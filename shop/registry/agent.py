"""Keeps this instance in the registry: renews its TTL entry only while its checks pass."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import msgspec

from shop.registry.store import Instance, Registry
from shop.runtime.background import Background
from shop.runtime.health import Health
from shop.runtime.metrics import Metrics

log = logging.getLogger("shop.registry.store")


class RegistryAgent:
    """Register, heartbeat every TTL/3 while healthy, deregister on stop.

    With Redis down it keeps the service serving, counts the failures, and registers again
    on the first beat after Redis returns (an empty, restarted Redis included).
    """

    def __init__(
        self,
        registry: Registry,
        instance: Instance,
        health: Health,
        metrics: Metrics,
        *,
        resolve_address: Callable[[], str] | None = None,
        drain_watch_url: str | None = None,
        drain_watch_interval: float = 1.0,
    ) -> None:
        self.registry = registry
        self.instance = instance
        self.health = health
        self.metrics = metrics
        self.interval = instance.ttl_ms / 3000
        self.resolve_address = resolve_address
        self._beats = Background(grace=2.0)
        self._watch = Background(grace=2.0)
        self._failing = False
        self._drain_watch = None
        if drain_watch_url is not None:
            from shop.registry.drain import DrainWatch

            self._drain_watch = DrainWatch(
                drain_watch_url, self._drain_started, drain_watch_interval
            )

    def start(self) -> None:
        """Join in the background: finding our own address may take a DNS lookup, and
        readiness must not wait for the registry."""
        self._beats.start("registry-heartbeat", self._run)
        if self._drain_watch is not None:
            self._watch.start("drain-watch", self._drain_watch.run)

    async def _drain_started(self) -> None:
        """Knative began to drain this pod: out of the registry now, not at SIGTERM, and say
        `Connection: close` so keep-alive callers move to other instances."""
        self.health.begin_shutdown()
        await self._leave()

    async def stop(self) -> None:
        """Stop renewing and leave the registry (idempotent). Bounded in time: shutdown must
        never hang on an unreachable Redis; the TTL removes the entry then."""
        await self._watch.stop()
        await self._leave()

    async def _leave(self) -> None:
        await self._beats.stop()
        try:  # also when no beat finished: a cancelled one may have reached Redis
            async with asyncio.timeout(2.0):
                await self.registry.deregister(self.instance.service, self.instance.instance_id)
        except Exception as exc:  # noqa: BLE001 - the TTL removes us anyway
            self._count_failure("deregister")
            log.warning(
                "deregister failed; the TTL will expire the entry", extra={"error": str(exc)}
            )
        else:
            log.info("deregistered")

    async def beat(self) -> None:
        verdict = await self.health.checks()
        try:
            if verdict.ok:
                self._set_healthy(True)
                if await self.registry.register(self.instance):
                    log.info("registered", extra={"address": self.instance.address})
            else:
                # Out of discover at once; without renewal the entry expires within one TTL.
                self._set_healthy(False)
                await self.registry.mark(self.instance)
                log.warning("health checks failing; not renewing", extra={"error": verdict.error})
        except Exception as exc:  # noqa: BLE001 - keep serving; retry on the next beat
            self._count_failure("heartbeat")
            if not self._failing:
                log.warning("registry heartbeat failed; will retry", extra={"error": str(exc)})
            self._failing = True
            return
        if self._failing:
            log.info("registry heartbeat recovered")
        self._failing = False

    def _set_healthy(self, healthy: bool) -> None:
        if self.instance.healthy != healthy:
            self.instance = msgspec.structs.replace(self.instance, healthy=healthy)

    def _count_failure(self, operation: str) -> None:
        self.metrics.registry_errors.labels(self.instance.service, operation).inc()

    async def _run(self) -> None:
        if self.resolve_address is not None:
            address = await asyncio.to_thread(self.resolve_address)
            self.instance = msgspec.structs.replace(self.instance, address=address)
        while True:
            await self.beat()
            await asyncio.sleep(self.interval)
