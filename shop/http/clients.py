"""The one client factory for service-to-service calls (orders -> products, everyone -> the
users service's JWKS).

It runs on the shared lean client (`shop.http.pools`), the gateway's upstream client, as the
event hops do (`shop.events.poster`), not on httpx (the general client, left to the local tooling):
the gateway benchmark measures both side by side on the same upstream, and orders makes two
calls per order on a 2-core budget.

A call names a service, not a URL: the address comes from the cached registry view (memory,
no Redis round trip per call), round-robin over healthy instances, and falls back to the
service's `<SERVICE>_URL` (its Knative cluster-local URL) when the registry knows none. Every
call has a timeout. Calls are retried on another instance only when that cannot repeat an
effect: idempotent calls after a transport error or a 502/503/504, any call whose connection
was never made. Pools are bounded (`max_idle_per_origin`, `max_connections`) and an instance
that leaves the registry has its pool dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from shop.http import origins
from shop.http.exchange import Reply, exchange
from shop.http.http1 import Refused
from shop.http.pools import Pools
from shop.runtime.errors import Unavailable
from shop.runtime.retry import Backoff
from shop.runtime.schema import Schema, env, parse

if TYPE_CHECKING:
    from shop.registry.view import RegistryView
    from shop.runtime.core import Runtime

RETRYABLE_STATUS = frozenset({502, 503, 504})
_BETWEEN_TRIES = Backoff(first=0.05, cap=0.5, growth="linear")


class ClientSettings(Schema, frozen=True, kw_only=True):
    fallbacks: Annotated[
        dict[str, str],
        env("{SERVICE}_URL", "The service's own URL, used when the registry knows no instance."),
    ] = msgspec.field(default_factory=dict)
    jwks_url: Annotated[
        str | None, env("JWKS_URL", "Where verifiers fetch the signing keys.", default="users")
    ] = None
    timeout: Annotated[
        float, env("SERVICE_TIMEOUT_SECONDS", "A service-to-service call's timeout.", ge=0.05)
    ] = 3.0
    connect_timeout: Annotated[
        float,
        env("SERVICE_CONNECT_TIMEOUT_SECONDS", "A call's connection timeout.", ge=0.01),
    ] = 0.5
    retries: int = 2
    max_idle_per_origin: Annotated[
        int, env("SERVICE_MAX_IDLE_PER_ORIGIN", "Idle connections kept per instance.", ge=0)
    ] = 20
    max_connections: Annotated[
        int, env("SERVICE_MAX_CONNECTIONS", "Connections open at most, in all.", ge=1)
    ] = 100

    def __post_init__(self) -> None:
        urls = {name: url.rstrip("/") for name, url in self.fallbacks.items()}
        msgspec.structs.force_setattr(self, "fallbacks", urls)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        return parse(cls, environ)


class ServiceClients:
    """Calls other services through one bounded set of pools."""

    def __init__(self, settings: ClientSettings, view: RegistryView | None = None) -> None:
        self.settings = settings
        self.view = view
        self.pools = Pools(
            connect_timeout=settings.connect_timeout,
            max_idle=settings.max_idle_per_origin,
            max_connections=settings.max_connections,
        )
        self._turn = itertools.count()
        self._seen = -1  # the view's version the pools were last pruned at

    def addresses(self, service: str) -> list[str]:
        """Where `service` answers now: healthy registered instances, else its fallback URL."""
        found = [i.address for i in self.view.healthy(service)] if self.view else []
        if found:
            start = next(self._turn) % len(found)
            return found[start:] + found[:start]
        fallback = self.settings.fallbacks.get(service)
        return [fallback] if fallback else []

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        read_timeout: float | None = None,
    ) -> Reply:
        """The reply of the first instance that answers; `Unavailable` if none does."""
        self._prune()
        addresses = self.addresses(service)
        if not addresses:
            raise Unavailable(f"The {service} service is unavailable.", retry_after=1)
        safe = method.upper() in {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
        retry_sent = safe if idempotent is None else idempotent
        sent_headers = _outgoing_headers(headers)
        body = None
        if json is not None:
            body = msgspec.json.encode(json)
            sent_headers["Content-Type"] = "application/json"
        last: BaseException | None = None
        for attempt in range(self.settings.retries + 1):
            address = addresses[attempt % len(addresses)]
            try:
                reply = await self._once(method, address, path, body, sent_headers, read_timeout)
            except Refused as exc:
                last = exc  # never reached the service: always safe to try again
            except (OSError, TimeoutError) as exc:
                if not retry_sent:
                    raise Unavailable(f"The {service} service did not answer.") from exc
                last = exc
            else:
                if reply.status_code not in RETRYABLE_STATUS or not retry_sent:
                    return reply
                if attempt == self.settings.retries:
                    return reply
            await _BETWEEN_TRIES.sleep(attempt + 1)
        raise Unavailable(f"The {service} service is unreachable.", retry_after=1) from last

    async def _once(
        self,
        method: str,
        base: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        read_timeout: float | None,
    ) -> Reply:
        from shop.runtime import telemetry

        seconds = read_timeout or self.settings.timeout
        url = f"{base}{path}"
        with telemetry.span(f"HTTP {method}", kind="client", attributes={"http.url": url}):
            telemetry.inject(headers)
            return await exchange(self.pools, method, base, path, headers, body or b"", seconds)

    async def jwks(self) -> dict[str, Any]:
        """The users service's public keys (`JWKS_URL` if set)."""
        if self.settings.jwks_url:
            base, path = origins.split(self.settings.jwks_url)
            reply = await self._once("GET", base, path or "/", None, {}, None)
        else:
            reply = await self.request("users", "GET", "/.well-known/jwks.json")
        if reply.status_code != 200:
            raise Unavailable(f"The key set answered {reply.status_code}.", retry_after=1)
        keys: dict[str, Any] = reply.json()
        return keys

    def _prune(self) -> None:
        """Drop the pools of instances that left the registry (once per change of the view)."""
        view = self.view
        if view is None or view.version == self._seen:
            return
        self._seen = view.version
        live = {i.address for found in view.all().values() for i in found}
        live.update(self.settings.fallbacks.values())
        if self.settings.jwks_url:
            live.add(origins.split(self.settings.jwks_url)[0])
        self.pools.retain(live)

    async def close(self) -> None:
        """Close the pools (the registry view is the runtime's)."""
        self.pools.close()


async def open_clients(
    runtime: Runtime, settings: ClientSettings, *, pool: int | None = None
) -> ServiceClients:
    """In a lifespan: the instance's clients on its one registry view, closed at shutdown.
    `pool` caps its connections below the settings' bound."""
    if pool is not None:
        capped = min(pool, settings.max_connections)
        idle = min(capped, settings.max_idle_per_origin)
        settings = msgspec.structs.replace(
            settings, max_connections=capped, max_idle_per_origin=idle
        )
    clients = ServiceClients(settings, await runtime.registry_view())
    runtime.on_close(clients.close)
    return clients


def _outgoing_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    from shop.runtime.logs import request_id

    sent = dict(headers or {})
    rid = request_id.get()
    if rid and "x-request-id" not in {k.lower() for k in sent}:
        sent["X-Request-ID"] = rid
    return sent
