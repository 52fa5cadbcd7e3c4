"""The gateway's composition root: the only place its adapters are built."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.handlers import asgi
from litestar.middleware._internal.cors import CORSMiddleware  # why: see create_app

from gateway.admin import registry_handler
from gateway.auth import Authenticator
from gateway.balancer import Balancer, NoRegistry
from gateway.breaker import CircuitBreaker, State
from gateway.dispatch import Dispatch, Guarded
from gateway.instruments import Instruments
from gateway.proxy import Proxy, ProxyOptions
from gateway.ratelimit import Limit, RateLimiter
from gateway.retries import RetryBudget
from gateway.routing import RouteTable, load
from gateway.settings import GatewaySettings
from gateway.storefront import storefront_handlers
from shop.auth.tokens import TokenVerifier
from shop.http.clients import ClientSettings, open_clients
from shop.registry.store import Instance
from shop.runtime.instrumentation import Instrumentation
from shop.runtime.service import create_service_app, runtime_of
from shop.runtime.settings import Settings

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

    from shop.runtime.core import Runtime

EXPOSED = ["X-Request-ID", "Retry-After", "Location", "RateLimit-Limit", "RateLimit-Remaining"]


def create_app(
    settings: GatewaySettings | Settings | None = None, *, table: RouteTable | None = None
) -> Litestar:
    if isinstance(settings, Settings):
        settings = GatewaySettings(runtime=settings)
    settings = settings or GatewaySettings.from_environ()
    table = table or load(settings.routes_file, settings.environ or {})
    runtime_settings = settings.runtime
    proxy: Proxy
    instruments: Instruments

    async def forward(scope: Scope, receive: Receive, send: Send) -> None:
        await proxy(scope, receive, send)

    async def start(runtime: Runtime) -> None:
        # Each proxied request allocates a few hundred short-lived objects; with the default
        # threshold (700) a young-generation collection runs every few requests and shows in
        # the tail latency. The server freezes start-up objects after this hook.
        gc.set_threshold(50_000, 20, 100)
        runtime.on_close(proxy.client.close)
        view = await runtime.registry_view()  # the instance's one cached view: no Redis per request
        if view is not None:
            proxy.balancer.view = view
        if runtime.redis is not None and settings.rate_limit_enabled:
            proxy.limiter = RateLimiter(
                runtime.redis, on_redis_error=instruments.ratelimit_redis_errors.inc
            )
        # Keys come through the one service-to-service client, on the instance's view.
        services = await open_clients(runtime, ClientSettings.from_environ(settings.environ or {}))
        verifier = TokenVerifier(
            services.jwks,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            min_refresh_seconds=10.0,
        )
        proxy.authenticator = Authenticator(verifier)

    cors = None
    if settings.cors_origins:
        cors = CORSConfig(
            allow_origins=list(settings.cors_origins),
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=EXPOSED,
            max_age=600,
        )
    handlers: list[Any] = [registry_handler(lambda: proxy), *storefront_handlers()]
    if settings.dispatch == "router":  # through Litestar's router: only to measure the difference
        handlers.append(asgi(path=table.prefixes, is_mount=True, copy_scope=False)(forward))
    app = create_service_app(
        runtime_settings, route_handlers=handlers, startup=[start], cors_config=cors
    )
    if settings.dispatch == "direct":
        front: ASGIApp = Guarded(forward)
        if cors is not None:
            # Litestar's own CORS middleware, the one `cors_config` puts on the routed paths, so
            # both paths answer CORS alike. Its public import was deprecated in 2.9 (no public
            # replacement); tests/e2e/gateway/test_hygiene.py pins the two paths' parity.
            front = CORSMiddleware(front, cors)
        instrumented = app.asgi_handler
        assert isinstance(instrumented, Instrumentation)
        instrumented.app = Dispatch(front, instrumented.app, table.prefixes)
    instruments = Instruments(runtime_of(app).metrics.registry)
    proxy = Proxy(
        table,
        Balancer(
            NoRegistry(),
            _breakers(settings, instruments),
            strategy=settings.balancer,
            on_departed=lambda u: instruments.forget_instance(u.service, u.instance.instance_id),
        ),
        instruments,
        ProxyOptions(
            max_body_bytes=runtime_settings.max_body_bytes,
            replay_body_bytes=settings.replay_body_bytes,
            max_attempts=settings.max_attempts,
            retry_backoff=settings.retry_backoff_seconds,
        ),
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
    app.state["proxy"] = proxy
    return app


def _breakers(
    settings: GatewaySettings, instruments: Instruments
) -> Callable[[Instance], CircuitBreaker]:
    def new_breaker(instance: Instance) -> CircuitBreaker:
        def changed(state: State) -> None:
            instruments.breaker_changed(instance.service, instance.instance_id, state)

        instruments.breaker_state.labels(instance.service, instance.instance_id).set(0)

        return CircuitBreaker(
            failures=settings.breaker_failures,
            rate=settings.breaker_failure_rate,
            window=settings.breaker_window_seconds,
            min_requests=settings.breaker_min_requests,
            open_for=settings.breaker_open_seconds,
            on_change=changed,
        )

    return new_breaker
