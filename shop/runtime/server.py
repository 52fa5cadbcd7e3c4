"""Runs an ASGI app on uvicorn with the runtime's graceful shutdown.

On SIGTERM or SIGINT: (1) mark not ready, (2) deregister, (3) stop accepting and let in-flight
requests finish within the grace period, (4) close pools and (5) flush telemetry in the app's
lifespan shutdown, (6) exit 0. Uvicorn would re-raise the signal after shutdown, which makes
the exit status 143; a clean, complete shutdown exits 0 instead.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import socket
import threading
from collections.abc import Generator
from typing import TYPE_CHECKING

import uvicorn

from shop.runtime.settings import Settings

if TYPE_CHECKING:
    from types import FrameType

    from litestar import Litestar

    from shop.runtime.core import Runtime


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, runtime: Runtime) -> None:
        super().__init__(config)
        self.runtime = runtime
        runtime.metrics.count_connections(lambda: len(self.server_state.connections))

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
        await self.runtime.drain()  # step 2 (and the optional drain delay) before we stop listening
        await super().shutdown(sockets)


def config_for(app: Litestar, settings: Settings) -> uvicorn.Config:
    from shop.runtime import telemetry

    return uvicorn.Config(
        telemetry.asgi(app) if telemetry.enabled() else app,  # outermost: every request spanned
        host=settings.host,
        port=settings.port,
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace) or None,
        timeout_keep_alive=75,  # longer than the gateway's idle pool timeout
        loop="uvloop" if _has("uvloop") else "asyncio",
        http="httptools" if _has("httptools") else "h11",
    )


def serve(app: Litestar, settings: Settings) -> int:
    from shop.runtime.service import runtime_of

    server = GracefulServer(config_for(app, settings), runtime_of(app))
    server.run()
    return 0 if server.started else 1


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
