"""Builds a service's Litestar app on the shared runtime. The one place the runtime is wired."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from litestar import Litestar, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from shop.runtime import telemetry
from shop.runtime.core import Runtime
from shop.runtime.edge import JsonRequest, answer_head
from shop.runtime.health import Health
from shop.runtime.instrumentation import Instrumentation
from shop.runtime.metrics import CONTENT_TYPE, Metrics
from shop.runtime.problems import AFTER_EXCEPTION, EXCEPTION_HANDLERS
from shop.runtime.settings import Settings

if TYPE_CHECKING:
    from litestar.config.app import AppConfig
    from litestar.plugins import PluginProtocol
    from litestar.types import ControllerRouterHandler
    from redis.asyncio import BlockingConnectionPool, Redis

Startup = Callable[[Runtime], Awaitable[object]]
_OTEL_METRICS = ("opentelemetry.sdk.metrics", "opentelemetry.metrics")  # redis-py's optional hook


def redis_client(url: str, *, max_connections: int = 32) -> Redis:
    """The one way to connect to Redis: short timeouts, so an outage never stalls a request,
    and a bounded pool that makes a burst wait briefly for a connection instead of failing."""
    BlockingConnectionPool, Redis = _import_redis()  # noqa: N806 - classes
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=1.0,
        socket_connect_timeout=1.0,
        socket_timeout=1.0,
        health_check_interval=10,
    )
    return Redis.from_pool(pool)  # owns the pool: aclose() closes it too


def _import_redis() -> tuple[type[BlockingConnectionPool], type[Redis]]:
    """Import redis.asyncio without its optional OpenTelemetry *metrics* hook: redis-py 8
    imports the OTel metrics SDK and API whenever they are installed, which costs a
    scale-to-zero function ~2.5 MiB and a third of the import time (the API alone ~8 ms CPU)
    for a feature we do not use (our metrics are Prometheus; traces are unaffected). redis-py
    has no switch for it; the block is pinned by
    `tests/integration/shop/runtime/test_redis_import.py`."""
    blocked = [name for name in _OTEL_METRICS if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        from redis.asyncio import BlockingConnectionPool, Redis
    finally:
        for name in blocked:
            del sys.modules[name]
    return BlockingConnectionPool, Redis


@get("/health", include_in_schema=False)
async def health(runtime: NamedDependency[Runtime]) -> Response[dict[str, Any]]:
    verdict = await runtime.health.liveness()
    if not verdict.ok:
        return Response({"status": "unhealthy", "error": verdict.error}, status_code=503)
    body = {
        "status": "healthy",
        "service": runtime.settings.service,
        "instance_id": runtime.settings.instance_id,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    return Response(body, status_code=200)


@get("/ready", include_in_schema=False)
async def ready(runtime: NamedDependency[Runtime]) -> Response[dict[str, str]]:
    verdict = await runtime.health.readiness()
    if verdict.ok:
        return Response({"status": "ready"}, status_code=200)
    return Response({"status": "not ready"}, status_code=503)


@get("/metrics", include_in_schema=False)
async def metrics(runtime: NamedDependency[Runtime]) -> Response[bytes]:
    # The header itself, not `media_type`: Litestar appends a second charset to a text/* type.
    return Response(runtime.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})


class ServiceApp(Litestar):
    """Litestar, minus two start-up costs a scale-to-zero function should not pay: it loads
    its attrs and pydantic plugins whenever those packages are installed (attrs comes with
    some dev tools), and imports its own OpenTelemetry plugin whenever OTel is installed (measured
    with `-X importtime` here: ~65-130 ms and ~240 ms of a cold start). Our models are msgspec
    structs, and tracing is `shop.runtime.telemetry`'s (only when configured).

    Litestar has no public switch for either, so these override two of its private hooks.
    `tests/unit/shop/runtime/test_cold_start.py` pins both: it fails if Litestar stops calling
    them, adds a core default plugin this would drop, or no longer imports what they skip."""

    @staticmethod
    def _get_default_plugins(plugins: list[PluginProtocol]) -> list[PluginProtocol]:
        from litestar.plugins.core import MsgspecDIPlugin

        return [*plugins, MsgspecDIPlugin()]

    @staticmethod
    def _patch_opentelemetry_middleware(config: AppConfig) -> AppConfig:
        return config


def create_service_app(
    settings: Settings,
    *,
    route_handlers: Sequence[ControllerRouterHandler] = (),
    startup: Sequence[Startup] = (),
    redis: Redis | None = None,
    register: bool = True,
    dependencies: dict[str, Provide] | None = None,
    **litestar_options: Any,
) -> Litestar:
    """A Litestar app with `/health`, `/ready`, `/metrics`, problem+json errors, JSON logs,
    request ids and registry membership. `startup` hooks run in order inside the lifespan;
    each may add health checks and `runtime.on_close` hooks."""
    runtime = Runtime(settings, Health(timeout=settings.check_timeout), Metrics(settings.service))

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        started = time.perf_counter()
        try:
            runtime.redis = redis if redis is not None else _own_redis(runtime, settings)
            for hook in startup:
                await hook(runtime)
            runtime.health.mark_running()
            if register and runtime.redis is not None:
                _join_registry(runtime)
            _log_started(settings, time.perf_counter() - started)
            yield
        finally:
            await runtime.close()

    app = ServiceApp(
        route_handlers=[health, ready, metrics, *route_handlers],
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        after_exception=AFTER_EXCEPTION,
        dependencies={
            "runtime": Provide(lambda: runtime, use_cache=True, sync_to_thread=False),
            **(dependencies or {}),
        },
        state=State({"runtime": runtime}),
        request_max_body_size=settings.max_body_bytes,
        request_class=JsonRequest,
        logging_config=None,
        **litestar_options,
    )
    app.asgi_handler = Instrumentation(
        answer_head(app, app.asgi_handler), runtime.metrics, runtime.health
    )
    if telemetry.setup(settings.service):  # only when OTEL_EXPORTER_OTLP_ENDPOINT is set
        runtime.on_flush(telemetry.flush)  # the server wraps the app in its request spans
    return app


def runtime_of(app: Litestar) -> Runtime:
    runtime: Runtime = app.state["runtime"]
    return runtime


def _own_redis(runtime: Runtime, settings: Settings) -> Redis | None:
    if settings.redis_url is None:
        return None
    client = redis_client(settings.redis_url)
    runtime.on_close(client.aclose)
    return client


def _join_registry(runtime: Runtime) -> None:
    from shop.registry.agent import RegistryAgent
    from shop.registry.store import Instance, Registry

    assert runtime.redis is not None
    settings = runtime.settings
    instance = Instance(
        instance_id=settings.instance_id,
        service=settings.service,
        address="",
        ttl_ms=int(settings.registry_ttl * 1000),
        registered_at=time.time(),
        metadata=registry_metadata(settings),
    )
    runtime.agent = RegistryAgent(
        Registry(runtime.redis),
        instance,
        runtime.health,
        runtime.metrics,
        resolve_address=lambda: settings.address,
        drain_watch_url=settings.drain_watch_url,
    )
    runtime.agent.start()


def registry_metadata(settings: Settings) -> dict[str, str]:
    """What the registry record says beside the address: version, revision, TLS server name."""
    from shop.registry.store import TLS_SERVER_NAME

    metadata = {"version": settings.version}
    if settings.k_revision:
        metadata["revision"] = settings.k_revision
    if settings.advertise_tls_server_name:
        metadata[TLS_SERVER_NAME] = settings.advertise_tls_server_name
    return metadata


def _log_started(settings: Settings, seconds: float) -> None:
    import logging

    logging.getLogger("shop.runtime.core").info(
        "started", extra={"port": settings.port, "startup_ms": round(seconds * 1000, 1)}
    )
