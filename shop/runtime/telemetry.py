"""OpenTelemetry tracing, configured only by the standard `OTEL_*` environment variables.

With no `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) tracing is off: this module
then imports nothing of OpenTelemetry and every helper is a no-op. When an endpoint is set, the
SDK exports over OTLP/HTTP (protobuf) in batches and instruments incoming ASGI requests,
outgoing httpx calls and Redis; `shop.db.trace` spans every database statement at the port,
and `span()` adds the publish and consume spans.

Trace context travels in the W3C `traceparent` header, and with each event in the CloudEvents
Distributed Tracing extension (`traceparent`/`tracestate` attributes) too, so it survives a hop
that drops HTTP headers. A consumer continues the producer's trace as its parent: the broker hop
and the subscriber's request are children of the publish span.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

log = logging.getLogger("shop.runtime.telemetry")
_EXCLUDED = r"/health$,/ready$,/metrics$"
_state: dict[str, Any] = {}


def wanted(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    return bool(endpoint and endpoint.strip())


def enabled() -> bool:
    return "tracer" in _state


def setup(service: str, environ: Mapping[str, str] | None = None) -> bool:
    """Start tracing for this process once, if the environment asks for it."""
    if enabled():
        return True
    if not wanted(environ):
        return False
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    env = os.environ if environ is None else environ
    protocol = env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol != "http/protobuf":
        log.warning("OTLP protocol %r is not supported; exporting over http/protobuf", protocol)
    attributes = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": service}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _instrument_libraries()
    _state["provider"] = provider
    _state["tracer"] = trace.get_tracer("shop")
    log.info("tracing on", extra={"endpoint": _endpoint(env)})
    return True


def _instrument_libraries() -> None:
    """httpx and Redis here; database statements are traced at the port (`shop.db.trace`)."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    for instrumentor in (HTTPXClientInstrumentor(), RedisInstrumentor()):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()


def asgi(app: ASGIApp) -> ASGIApp:
    """Wrap an ASGI app in a server span per request, named by its route template."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    async def routed(scope: Scope, receive: Receive, send: Send) -> None:
        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                _name_by_route(scope)  # routed by now; the span ends with the response body
            await send(message)

        await app(scope, receive, named)

    wrapped: ASGIApp = OpenTelemetryMiddleware(  # type: ignore[assignment]
        routed,
        excluded_urls=_EXCLUDED,
        default_span_details=lambda scope: (scope.get("method", "HTTP"), {}),
        exclude_spans=["receive", "send"],
    )
    return wrapped


def _name_by_route(scope: Scope) -> None:
    from opentelemetry import trace

    raw: dict[str, Any] = dict(scope)
    template, method = raw.get("path_template"), raw.get("method")
    if template and method:
        current = trace.get_current_span()
        current.update_name(f"{method} {template}")
        current.set_attribute("http.route", template)


@contextmanager
def span(
    name: str,
    *,
    kind: str = "internal",
    carrier: Mapping[str, str] | None = None,
    attributes: Mapping[str, str | int] | None = None,
) -> Iterator[None]:
    """A span around a block; with `carrier`, its parent comes from that `traceparent`."""
    tracer: Tracer | None = _state.get("tracer")
    if tracer is None:
        yield
        return
    from opentelemetry import propagate, trace

    parent = propagate.extract(dict(carrier)) if carrier is not None else None
    with tracer.start_as_current_span(
        name,
        context=parent,
        kind=getattr(trace.SpanKind, kind.upper()),
        attributes=dict(attributes or {}),
    ):
        yield


def inject(headers: MutableMapping[str, str]) -> None:
    """Add the current span's `traceparent` (and `tracestate`) to outgoing headers."""
    if enabled():
        from opentelemetry import propagate

        propagate.inject(headers)


def event_carrier(
    headers: Mapping[str, str], extensions: Mapping[str, str]
) -> dict[str, str] | None:
    """The trace context a delivered event continues: None when the request's own `traceparent`
    header is there (its server span continues it), else the Distributed Tracing extension's."""
    if any(name.lower() == "traceparent" for name in headers):
        return None
    carried = {k: extensions[k] for k in ("traceparent", "tracestate") if k in extensions}
    return carried if "traceparent" in carried else None


@contextmanager
def continued(carrier: Mapping[str, str] | None) -> Iterator[None]:
    """Run the block inside the trace `carrier` names (in the current one when None)."""
    if carrier is None or not enabled():
        yield
        return
    from opentelemetry import context, propagate

    token = context.attach(propagate.extract(dict(carrier)))
    try:
        yield
    finally:
        context.detach(token)


def traceparent() -> str | None:
    """The current span's `traceparent`, to store with work that continues it later."""
    if not enabled():
        return None
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent")


async def flush() -> None:
    """Export what is buffered; the runtime calls this last at shutdown."""
    provider: TracerProvider | None = _state.get("provider")
    if provider is not None:
        await asyncio.to_thread(provider.force_flush, 5000)


def _endpoint(env: Mapping[str, str]) -> str:
    return env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT", ""
    )
