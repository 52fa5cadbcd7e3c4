"""Load balancing over the healthy instances in the registry's cached view.

Each instance the gateway has seen keeps an `Upstream`: its breaker and its in-flight count
survive view refreshes. Three strategies: plain round robin; least outstanding requests with a
rotating start (round robin among ties); and power of two choices on outstanding requests.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping
from types import MappingProxyType
from typing import Protocol

from gateway.breaker import CircuitBreaker
from shop.registry.store import Instance


class Directory(Protocol):
    """What the balancer reads: `shop.registry.view.RegistryView`, or `NoRegistry` without Redis."""

    version: int
    stale: bool

    def healthy(self, service: str) -> tuple[Instance, ...]: ...

    def all(self) -> Mapping[str, tuple[Instance, ...]]: ...


class NoRegistry:
    version = 0
    stale = False

    def healthy(self, service: str) -> tuple[Instance, ...]:
        return ()

    def all(self) -> Mapping[str, tuple[Instance, ...]]:
        return MappingProxyType({})


class Upstream:
    __slots__ = ("breaker", "instance", "outstanding", "service", "url")

    def __init__(self, instance: Instance, breaker: CircuitBreaker) -> None:
        self.instance = instance
        self.service = instance.service
        self.url = instance.address.rstrip("/")
        self.breaker = breaker
        self.outstanding = 0


class Balancer:
    def __init__(
        self,
        view: Directory,
        new_breaker: Callable[[Instance], CircuitBreaker],
        *,
        strategy: str = "least_outstanding",
        rng: random.Random | None = None,
        on_departed: Callable[[Upstream], None] = lambda _: None,
    ) -> None:
        self.view = view
        self.new_breaker = new_breaker
        self.on_departed = on_departed
        self.rng = rng or random.Random()  # noqa: S311 - balancing, not security
        self.upstreams: dict[str, Upstream] = {}
        self._pools: dict[str, tuple[int, list[Upstream]]] = {}
        self._cursor: dict[str, int] = {}
        self._choose = {
            "round_robin": self._round_robin,
            "least_outstanding": self._least_outstanding,
            "p2c": self._two_choices,
        }[strategy]

    def pool(self, service: str) -> list[Upstream]:
        """Every healthy registered instance of `service` (open breakers included)."""
        version = self.view.version
        cached = self._pools.get(service)
        if cached is not None and cached[0] == version:
            return cached[1]
        pool = [self._upstream(i) for i in self.view.healthy(service) if i.address]
        self._pools[service] = (version, pool)
        self._forget_departed()
        return pool

    def pick(self, service: str, exclude: Collection[Upstream] = ()) -> Upstream | None:
        """An instance whose breaker lets a call through now, or None. Claims the call."""
        pool = self.pool(service)
        if not pool:
            return None
        choice = self._choose(service, pool, exclude)
        if choice is None or not choice.breaker.allow():
            return None
        return choice

    def retry_after(self, service: str) -> float:
        """When the first open breaker of `service` lets a probe through."""
        waits = [u.breaker.retry_after() for u in self.pool(service)]
        return min(waits, default=1.0)

    def _round_robin(
        self, service: str, pool: list[Upstream], exclude: Collection[Upstream]
    ) -> Upstream | None:
        start = self._cursor.get(service, 0)
        size = len(pool)
        for offset in range(size):
            upstream = pool[(start + offset) % size]
            if upstream not in exclude and upstream.breaker.available():
                self._cursor[service] = start + offset + 1
                return upstream
        return None

    def _least_outstanding(
        self, service: str, pool: list[Upstream], exclude: Collection[Upstream]
    ) -> Upstream | None:
        start = self._cursor.get(service, 0)
        self._cursor[service] = start + 1
        size = len(pool)
        best: Upstream | None = None
        for offset in range(size):
            upstream = pool[(start + offset) % size]
            if (best is None or upstream.outstanding < best.outstanding) and (
                upstream not in exclude and upstream.breaker.available()
            ):
                best = upstream
        return best

    def _two_choices(
        self, service: str, pool: list[Upstream], exclude: Collection[Upstream]
    ) -> Upstream | None:
        ready = [u for u in pool if u not in exclude and u.breaker.available()]
        if len(ready) <= 1:
            return ready[0] if ready else None
        first, second = self.rng.sample(ready, 2)
        return first if first.outstanding <= second.outstanding else second

    def _upstream(self, instance: Instance) -> Upstream:
        upstream = self.upstreams.get(instance.instance_id)
        if upstream is None or upstream.url != instance.address.rstrip("/"):
            upstream = Upstream(instance, self.new_breaker(instance))
            self.upstreams[instance.instance_id] = upstream
        else:
            upstream.instance = instance
        return upstream

    def _forget_departed(self) -> None:
        registered = {i.instance_id for found in self.view.all().values() for i in found}
        for instance_id in [k for k in self.upstreams if k not in registered]:
            self.on_departed(self.upstreams.pop(instance_id))
