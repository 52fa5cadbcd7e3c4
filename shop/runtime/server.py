"""Runs an ASGI app on uvicorn with the runtime's graceful shutdown.

On SIGTERM or SIGINT: (1) mark not ready, (2) deregister, (3) stop accepting and let in-flight
requests finish within the grace period, (4) close pools and (5) flush telemetry in the app's
lifespan shutdown, (6) exit 0. Uvicorn would re-raise the signal after shutdown, which makes
the exit status 143; a clean, complete shutdown exits 0 instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
import threading
from collections.abc import Generator
from typing import TYPE_CHECKING, Literal

import uvicorn

from shop.runtime.settings import Settings

if TYPE_CHECKING:
    from types import FrameType

    from litestar import Litestar

    from shop.runtime.core import Runtime


class GracefulServer(uvicorn.Server):
    def __init__(
        self, config: uvicorn.Config, runtime: Runtime, *, shared: socket.socket | None = None
    ) -> None:
        super().__init__(config)
        self.runtime = runtime
        runtime.metrics.count_connections(lambda: len(self.server_state.connections))
        self.shared = shared

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.runtime.health.begin_shutdown()  # step 1 at once: /ready answers 503 from now on
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # Start-up garbage is long-lived: freeze it out of every future collection.
        gc.freeze()
        gc.enable()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.shared is not None:  # another instance accepts on it: stop taking new ones now
            self.servers[0].close()
        await self.runtime.drain()  # step 2 (and the optional drain delay) before we stop listening
        await super().shutdown(sockets)


def config_for(app: Litestar, settings: Settings) -> uvicorn.Config:
    from shop.runtime import telemetry

    # Every request spanned. Draining answers say `Connection: close` (the instrumentation's).
    traced = telemetry.asgi(app) if telemetry.enabled() else app
    return uvicorn.Config(
        traced,
        host=settings.host,
        port=settings.port,
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        # The client is the right-most hop not in TRUSTED_PROXIES (uvicorn's own loopback
        # default would let any local process, or Knative's queue-proxy, choose it).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
        timeout_graceful_shutdown=int(settings.shutdown_grace) or None,
        timeout_keep_alive=int(settings.keep_alive_timeout),  # > the gateway's idle pool timeout
        loop="uvloop" if _has("uvloop") else "asyncio",
        http=_http(settings),
        # No service serves WebSockets: "auto" would import wsproto at every cold start (~30 ms
        # CPU). An upgrade request is answered as plain HTTP (a 404, as for any unknown path).
        ws="none",
        h11_max_incomplete_event_size=settings.max_head_bytes,
        limit_concurrency=settings.max_connections,
    )


def _http(settings: Settings) -> type[asyncio.Protocol] | Literal["h11"]:
    """httptools with the head, URL and timeout bounds (shop.runtime.http_limits), else h11."""
    if not _has("httptools"):
        return "h11"
    from shop.runtime.http_limits import BoundedHttpTools, HttpLimits

    return BoundedHttpTools.with_limits(
        HttpLimits(
            max_head_bytes=settings.max_head_bytes,
            max_headers=settings.max_headers,
            max_url_bytes=settings.max_url_bytes,
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
        )
    )


def serve(app: Litestar, settings: Settings, *, shared: socket.socket | None = None) -> int:
    """Serve on `settings.port`; with `shared`, also on that listening socket, which other
    instances (`shop up`'s gateways during a rolling restart) accept on too."""
    from shop.runtime.service import runtime_of

    config = config_for(app, settings)
    server = GracefulServer(config, runtime_of(app), shared=shared)
    server.run(sockets=None if shared is None else [shared, config.bind_socket()])
    return 0 if server.started else 1


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
