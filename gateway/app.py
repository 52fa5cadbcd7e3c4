"""The gateway's composition root: the only place its adapters are built."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.handlers import asgi
from litestar.middleware._internal.cors import CORSMiddleware  # why: see create_app

from gateway.admin import registry_handler
from gateway.auth import Authenticator
from gateway.balancer import Balancer, NoRegistry, Upstream
from gateway.breaker import CircuitBreaker, State
from gateway.dispatch import Dispatch, Guarded
from gateway.gcra import Limit
from gateway.instruments import Instruments
from gateway.internal import InternalOnly
from gateway.proxy import Proxy, ProxyOptions
from gateway.ratelimit import RateLimiter
from gateway.retries import RetryBudget
from gateway.routing import RouteTable, load
from gateway.schema import schema_handlers
from gateway.settings import GatewaySettings
from gateway.storefront import storefront_handlers
from gateway.transport_security import StrictTransportSecurity
from shop.auth.tokens import TokenVerifier
from shop.http.clients import open_clients
from shop.registry.store import Instance
from shop.runtime.instrumentation import Instrumentation
from shop.runtime.service import create_service_app
from shop.runtime.wiring import Wired

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

    from shop.runtime.core import Runtime

log = logging.getLogger("gateway")
EXPOSED = ["X-Request-ID", "Retry-After", "Location", "RateLimit-Limit", "RateLimit-Remaining"]


@dataclass(frozen=True, slots=True)
class Adapters:
    proxy: Proxy


async def bootstrap(settings: GatewaySettings, runtime: Runtime, table: RouteTable) -> Adapters:
    # Each proxied request allocates a few hundred short-lived objects; with the default
    # threshold (700) a young-generation collection runs every few requests and shows in
    # the tail latency. The server freezes start-up objects after this hook.
    gc.set_threshold(50_000, 20, 100)
    instruments = Instruments(runtime.metrics.registry)
    view = await runtime.registry_view()  # the instance's one cached view: no Redis per request
    limiter = None
    if runtime.redis is not None and settings.rate_limit_enabled:
        limiter = RateLimiter(
            runtime.redis,
            on_redis_error=instruments.ratelimit_redis_errors.inc,
            sync_seconds=settings.rate_limit_sync_seconds,
            local_share=settings.rate_limit_local_share,
        )
        runtime.background("ratelimit-sync", limiter.run)
    # Keys come through the one service-to-service client, on the instance's view.
    services = await open_clients(runtime, settings.clients)
    verifier = TokenVerifier(
        services.jwks,
        issuer=settings.tokens.issuer,
        audience=settings.tokens.audience,
        min_refresh_seconds=10.0,
        cache_size=10_000,  # the one cache of verified tokens; cleared when keys are refetched
    )

    def departed(upstream: Upstream) -> None:
        instruments.forget_instance(upstream.service, upstream.instance.instance_id)
        proxy.client.forget(upstream.url)  # its pool of connections goes too

    proxy = Proxy(
        table,
        Balancer(
            view if view is not None else NoRegistry(),
            _breakers(settings, instruments),
            strategy=settings.balancer,
            on_departed=departed,
        ),
        instruments,
        ProxyOptions(
            max_body_bytes=settings.runtime.max_body_bytes,
            replay_body_bytes=settings.replay_body_bytes,
            max_attempts=settings.max_attempts,
            retry_backoff=settings.retry_backoff_seconds,
            max_idle_per_origin=settings.upstream_max_idle_per_origin,
            max_connections=settings.upstream_max_connections,
            suspect_after=settings.suspect_after_seconds,
            probe_timeout=settings.probe_timeout_seconds,
        ),
        authenticator=Authenticator(verifier),
        limiter=limiter,
        budget=RetryBudget(
            ratio=settings.retry_budget_ratio, min_per_second=settings.retry_budget_min_per_second
        ),
        limits={
            "default": Limit("default", settings.rate_limit_per_second, settings.rate_limit_burst),
            "auth": Limit(
                "auth", settings.rate_limit_auth_per_minute / 60, settings.rate_limit_auth_burst
            ),
        },
    )
    runtime.on_close(proxy.client.close)
    return Adapters(proxy)


def create_app(
    settings: GatewaySettings | None = None, *, table: RouteTable | None = None
) -> Litestar:
    config = settings or GatewaySettings.from_environ()
    routes = table or load(config)
    wired: Wired[Adapters] = Wired()

    async def forward(scope: Scope, receive: Receive, send: Send) -> None:
        await wired.get().proxy(scope, receive, send)

    hooks: list[Callable[[], None]] = []  # run once the adapters are built

    async def start(runtime: Runtime) -> None:
        wired.set(await bootstrap(config, runtime, routes))
        for hook in hooks:
            hook()

    cors = None
    if config.cors_origins:
        cors = CORSConfig(
            allow_origins=list(config.cors_origins),
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=EXPOSED,
            max_age=600,
        )
    handlers: list[Any] = [
        registry_handler(lambda: wired.get().proxy),
        *storefront_handlers(),
        *schema_handlers(),  # the merged public API document, not Litestar's own
    ]
    if config.dispatch == "router":  # through Litestar's router: only to measure the difference

        async def mounted(scope: Scope, receive: Receive, send: Send) -> None:
            # A mount strips its prefix from the path; the proxy decides on the whole one, as
            # the server decoded it from the raw path.
            scope["path"] = unquote(scope["raw_path"].decode("latin-1"))
            await forward(scope, receive, send)

        handlers.append(asgi(path=routes.prefixes, is_mount=True, copy_scope=False)(mounted))
    app = create_service_app(
        config.runtime,
        route_handlers=handlers,
        startup=[start],
        cors_config=cors,
        openapi_config=None,
    )
    app.state["wired"] = wired  # for `adapters_of`
    instrumented = app.asgi_handler
    assert isinstance(instrumented, Instrumentation)
    rest: ASGIApp = InternalOnly(instrumented.app)  # /metrics: in-cluster scrapes only
    if config.hsts_max_age_seconds:
        rest = StrictTransportSecurity(rest, config.hsts_max_age_seconds)
    instrumented.app = rest
    if config.dispatch == "direct":
        if cors is None:
            # One layer for the proxied paths: the instrumentation, errors and HSTS are the
            # dispatch's own.
            hsts = rest.value if isinstance(rest, StrictTransportSecurity) else None
            dispatch = Dispatch(forward, instrumented, routes.prefixes, guard=True, hsts=hsts)

            def bind() -> None:  # the proxy itself, without `forward` in between
                dispatch.proxy = wired.get().proxy

            hooks.append(bind)
        else:
            # Litestar's own CORS middleware, the one `cors_config` puts on the routed paths, so
            # both paths answer CORS alike. Its public import was deprecated in 2.9 (no public
            # replacement); tests/e2e/gateway/test_hygiene.py pins the two paths' parity.
            front: ASGIApp = CORSMiddleware(Guarded(forward), cors)
            if config.hsts_max_age_seconds:
                front = StrictTransportSecurity(front, config.hsts_max_age_seconds)
            dispatch = Dispatch(front, instrumented, routes.prefixes)
        app.asgi_handler = dispatch
    return app


def instance_key(instance: Instance) -> tuple[str, str]:
    return instance.service, instance.instance_id


def adapters_of(app: Litestar) -> Adapters:
    """What the gateway's lifespan built (for tests and tooling; handlers get it injected)."""
    wired: Wired[Adapters] = app.state["wired"]
    return wired.get()


def _breakers(
    settings: GatewaySettings, instruments: Instruments
) -> Callable[[Instance], CircuitBreaker]:
    def new_breaker(instance: Instance) -> CircuitBreaker:
        def changed(state: State) -> None:
            instruments.breaker_changed(instance.service, instance.instance_id, state)
            log.warning("breaker %s for %s instance %s", state.value, *instance_key(instance))

        instruments.breaker_added(instance.service, instance.instance_id)

        return CircuitBreaker(
            failures=settings.breaker_failures,
            rate=settings.breaker_failure_rate,
            window=settings.breaker_window_seconds,
            min_requests=settings.breaker_min_requests,
            open_for=settings.breaker_open_seconds,
            on_change=changed,
        )

    return new_breaker
