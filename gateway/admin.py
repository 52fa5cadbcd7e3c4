"""`GET /registry` (admin): every registered instance with the gateway's breaker state for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Request, get

from gateway.auth import authorize
from gateway.balancer import Balancer
from gateway.proxy import Proxy
from shop.runtime.errors import Unavailable


class BreakerView(msgspec.Struct):
    state: str
    consecutive_failures: int
    trips: int
    retry_after: float
    outstanding: int


class InstanceView(msgspec.Struct):
    service: str
    instance_id: str
    address: str
    healthy: bool
    last_seen: float
    breaker: BreakerView | None


class RegistryPage(msgspec.Struct):
    instances: list[InstanceView]
    stale: bool


def registry_handler(current: Callable[[], Proxy]) -> Any:
    @get("/registry", summary="Registered instances and breaker states")
    async def registry(request: Request[Any, Any, Any]) -> RegistryPage:
        proxy = current()
        balancer: Balancer = proxy.balancer
        if proxy.authenticator is None:
            raise Unavailable("Authentication is not configured.")
        claims = await proxy.authenticator.identify(request.headers.get("authorization"))
        authorize("admin", claims)
        instances = []
        for found in balancer.view.all().values():
            for instance in found:
                upstream = balancer.upstreams.get(instance.instance_id)
                breaker = None
                if upstream is not None:
                    b = upstream.breaker
                    breaker = BreakerView(
                        state=b.state.value,
                        consecutive_failures=b.consecutive,
                        trips=b.trips,
                        retry_after=round(b.retry_after(), 3),
                        outstanding=upstream.outstanding,
                    )
                elif instance.healthy:
                    breaker = BreakerView("closed", 0, 0, 0.0, 0)
                instances.append(
                    InstanceView(
                        service=instance.service,
                        instance_id=instance.instance_id,
                        address=instance.address,
                        healthy=instance.healthy,
                        last_seen=instance.last_seen,
                        breaker=breaker,
                    )
                )
        return RegistryPage(instances=instances, stale=getattr(balancer.view, "stale", False))

    return registry
