"""The one HTTP client factory for service-to-service calls (orders -> products, everyone ->
the users service's JWKS).

It runs on aiohttp (already the gateway's upstream client), not httpx: measured here, an httpx
call costs about 4 ms of CPU against 0.3 ms for aiohttp (`benchmarks/bench_orders.py` notes),
and orders makes two calls per order on a 2-core budget.

A call names a service, not a URL: the address comes from the cached registry view (memory,
no Redis round trip per call), round-robin over healthy instances, and falls back to the
service's `<SERVICE>_URL` (its Knative cluster-local URL) when the registry knows none. Every
call has a timeout. Calls are retried on another instance only when that cannot repeat an
effect: idempotent calls after a transport error or a 502/503/504, any call whose connection
was never made.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from shop.runtime.errors import Unavailable
from shop.runtime.schema import Schema, env, parse

if TYPE_CHECKING:
    import aiohttp

    from shop.registry.view import RegistryView
    from shop.runtime.core import Runtime

RETRYABLE_STATUS = frozenset({502, 503, 504})


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

    def __post_init__(self) -> None:
        urls = {name: url.rstrip("/") for name, url in self.fallbacks.items()}
        msgspec.structs.force_setattr(self, "fallbacks", urls)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        return parse(cls, environ)


@dataclass(frozen=True, slots=True)
class Reply:
    """A service's answer, read in full."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        try:
            return msgspec.json.decode(self.content)
        except msgspec.DecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from None


class ServiceClients:
    """Calls other services. Without a `session` it opens (and owns) its own on the first
    call, so aiohttp's import (~0.1 s here) is never on the way to readiness, and an instance
    that only serves local reads (the public catalog, say) never pays it."""

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        settings: ClientSettings,
        view: RegistryView | None = None,
        *,
        pool: int = 20,
    ) -> None:
        self._session = session
        self._owned = session is None
        self.settings = settings
        self.view = view
        self.pool = pool
        self._turn = itertools.count()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.pool, limit_per_host=self.pool, keepalive_timeout=30
                ),
                timeout=aiohttp.ClientTimeout(
                    total=self.settings.timeout, connect=self.settings.connect_timeout
                ),
            )
        return self._session

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
        never_sent, maybe_sent = _errors()
        last: BaseException | None = None
        for attempt in range(self.settings.retries + 1):
            address = addresses[attempt % len(addresses)]
            try:
                reply = await self._once(
                    method, f"{address}{path}", body, sent_headers, read_timeout
                )
            except never_sent as exc:
                last = exc  # never reached the service: always safe to try again
            except maybe_sent as exc:
                if not retry_sent:
                    raise Unavailable(f"The {service} service did not answer.") from exc
                last = exc
            else:
                if reply.status_code not in RETRYABLE_STATUS or not retry_sent:
                    return reply
                if attempt == self.settings.retries:
                    return reply
            await asyncio.sleep(0.05 * (attempt + 1))
        raise Unavailable(f"The {service} service is unreachable.", retry_after=1) from last

    async def _once(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        read_timeout: float | None,
    ) -> Reply:
        import aiohttp

        from shop.runtime import telemetry

        timeout = aiohttp.ClientTimeout(
            total=read_timeout or self.settings.timeout, connect=self.settings.connect_timeout
        )
        with telemetry.span(f"HTTP {method}", kind="client", attributes={"http.url": url}):
            telemetry.inject(headers)
            async with self.session.request(
                method, url, data=body, headers=headers, timeout=timeout
            ) as response:
                return Reply(response.status, dict(response.headers), await response.read())

    async def jwks(self) -> dict[str, Any]:
        """The users service's public keys (`JWKS_URL` if set)."""
        if self.settings.jwks_url:
            reply = await self._once("GET", self.settings.jwks_url, None, {}, None)
        else:
            reply = await self.request("users", "GET", "/.well-known/jwks.json")
        if reply.status_code != 200:
            raise Unavailable(f"The key set answered {reply.status_code}.", retry_after=1)
        keys: dict[str, Any] = reply.json()
        return keys

    async def close(self) -> None:
        """Close the session if this client opened it (the registry view is the runtime's)."""
        if self._owned and self._session is not None:
            await self._session.close()
            self._session = None


async def open_clients(
    runtime: Runtime, settings: ClientSettings, *, pool: int = 20
) -> ServiceClients:
    """In a lifespan: the instance's clients on its one registry view, closed at shutdown.
    The HTTP session itself opens on the first call."""
    clients = ServiceClients(None, settings, await runtime.registry_view(), pool=pool)
    runtime.on_close(clients.close)
    return clients


def _outgoing_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    from shop.runtime.logs import request_id

    sent = dict(headers or {})
    rid = request_id.get()
    if rid and "x-request-id" not in {k.lower() for k in sent}:
        sent["X-Request-ID"] = rid
    return sent


Errors = tuple[type[BaseException], ...]


@functools.cache
def _errors() -> tuple[Errors, Errors]:
    """(never sent: safe to repeat, maybe sent: repeat only idempotent calls)."""
    import aiohttp

    never = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
    maybe = (aiohttp.ClientError, TimeoutError)
    return never, maybe
