"""The one HTTP client factory for service-to-service calls (orders -> products, everyone ->
the users service's JWKS).

A call names a service, not a URL: the address comes from the cached registry view (memory,
no Redis round trip per call), round-robin over healthy instances, and falls back to the
service's `<SERVICE>_URL` (its Knative cluster-local URL) when the registry knows none. Every
call has a timeout. Calls are retried on another instance only when that cannot repeat an
effect: idempotent calls after a transport error or a 502/503/504, any call whose connection
was never made.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shop.errors import Unavailable
from shop.settings import env_float, env_str

if TYPE_CHECKING:
    import httpx

    from shop.runtime import Runtime
    from shop.view import RegistryView

SERVICES = ("users", "products", "orders", "notifications")
RETRYABLE_STATUS = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True)
class ClientSettings:
    fallbacks: Mapping[str, str] = field(default_factory=dict)
    jwks_url: str | None = None
    timeout: float = 3.0
    connect_timeout: float = 0.5
    retries: int = 2

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ClientSettings:
        fallbacks = {
            name: env_str(environ, f"{name.upper()}_URL", "").rstrip("/") for name in SERVICES
        }
        return cls(
            fallbacks={name: url for name, url in fallbacks.items() if url},
            jwks_url=env_str(environ, "JWKS_URL", "") or None,
            timeout=env_float(environ, "SERVICE_TIMEOUT_SECONDS", 3.0, low=0.05),
            connect_timeout=env_float(environ, "SERVICE_CONNECT_TIMEOUT_SECONDS", 0.5, low=0.01),
        )


class ServiceClients:
    def __init__(
        self, http: httpx.AsyncClient, settings: ClientSettings, view: RegistryView | None = None
    ) -> None:
        self.http = http
        self.settings = settings
        self.view = view
        self._turn = itertools.count()

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
    ) -> httpx.Response:
        """The response of the first instance that answers; `Unavailable` if none does."""
        import httpx

        addresses = self.addresses(service)
        if not addresses:
            raise Unavailable(f"The {service} service is unavailable.", retry_after=1)
        safe = method.upper() in {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
        retry_sent = safe if idempotent is None else idempotent
        sent_headers = _outgoing_headers(headers)
        last: Exception | None = None
        for attempt in range(self.settings.retries + 1):
            address = addresses[attempt % len(addresses)]
            try:
                response = await self.http.request(
                    method,
                    f"{address}{path}",
                    json=json,
                    headers=sent_headers,
                    timeout=read_timeout or self.settings.timeout,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                last = exc  # never reached the service: always safe to try again
            except httpx.TransportError as exc:
                if not retry_sent:
                    raise Unavailable(f"The {service} service did not answer.") from exc
                last = exc
            else:
                if response.status_code not in RETRYABLE_STATUS or not retry_sent:
                    return response
                if attempt == self.settings.retries:
                    return response
            await asyncio.sleep(0.05 * (attempt + 1))
        raise Unavailable(f"The {service} service is unreachable.", retry_after=1) from last

    async def jwks(self) -> dict[str, Any]:
        """The users service's public keys (`JWKS_URL` if set)."""
        if self.settings.jwks_url:
            response = await self.http.get(self.settings.jwks_url, timeout=self.settings.timeout)
        else:
            response = await self.request("users", "GET", "/.well-known/jwks.json")
        response.raise_for_status()
        keys: dict[str, Any] = response.json()
        return keys

    async def close(self) -> None:
        if self.view is not None:
            await self.view.stop()
        await self.http.aclose()


async def open_clients(
    runtime: Runtime, settings: ClientSettings, *, pool: int = 20
) -> ServiceClients:
    """In a lifespan: the instance's clients, closed at shutdown."""
    import httpx

    from shop.registry import Registry
    from shop.view import RegistryView

    http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
        # Keep every connection alive: closing and reopening them under load costs more
        # than the idle sockets do.
        limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
    )
    view = None
    if runtime.redis is not None:
        view = RegistryView(Registry(runtime.redis), refresh=runtime.settings.registry_refresh)
        await view.start()
    clients = ServiceClients(http, settings, view)
    runtime.on_close(clients.close)
    return clients


def _outgoing_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    from shop import telemetry
    from shop.logs import request_id

    sent = dict(headers or {})
    rid = request_id.get()
    if rid and "x-request-id" not in {k.lower() for k in sent}:
        sent["X-Request-ID"] = rid
    telemetry.inject(sent)
    return sent
