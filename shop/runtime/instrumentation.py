"""One ASGI middleware around the whole app: request ids and the HTTP metrics.

It wraps Litestar's own handler (`app.asgi_handler`), so it also sees the 404s and 405s that
never reach a route. Routes are labelled by template (`/orders/{id}`), never by raw path.
"""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING

from litestar.enums import ScopeType

from shop.runtime.logs import request_id
from shop.runtime.metrics import Metrics
from shop.runtime.problems import answer_problem

if TYPE_CHECKING:
    from collections.abc import Callable

    from litestar.types import (
        ASGIApp,
        HTTPResponseStartEvent,
        HTTPScope,
        Message,
        Receive,
        Scope,
        Send,
    )

    from shop.runtime.health import Health

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def incoming_request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _VALID_ID.match(candidate):
                return candidate
            break
    return os.urandom(16).hex()  # 128 random bits, as uuid4 but without building a UUID


class Instrumentation:
    """Request ids and the HTTP metrics for every HTTP request; and, once the instance is
    draining, `Connection: close` on every answer: a keep-alive client reconnects (to another
    instance) after its current response, instead of racing the final close."""

    def __init__(self, app: ASGIApp, metrics: Metrics, health: Health | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.health = health

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        await self.handle(self.app, scope, receive, send)

    async def handle(
        self,
        app: ASGIApp,
        scope: HTTPScope,
        receive: Receive,
        send: Send,
        *,
        amend: Callable[[HTTPResponseStartEvent], HTTPResponseStartEvent] | None = None,
        guard: bool = False,
    ) -> None:
        """Run `app` for the HTTP request `scope`, instrumented. `amend` changes its response
        start before the ids are added; with `guard`, an exception raised before the answer
        started becomes a problem response (`shop.runtime.problems`), as inside Litestar. A
        layer in front of Litestar (the gateway's dispatch) calls this directly: one layer."""
        rid = incoming_request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        added = [(b"x-request-id", rid.encode())]
        if self.health is not None and self.health.draining:
            added.append((b"connection", b"close"))
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if amend is not None:
                    message = amend(message)
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        token = request_id.set(rid)
        in_flight = self.metrics.requests_in_flight
        in_flight.inc()
        started = time.perf_counter()
        try:
            try:
                await app(scope, receive, send_with_id)
            except Exception as exc:
                if not guard or status:
                    raise  # mid-stream: the server closes the connection
                await answer_problem(exc, scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            in_flight.dec()
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            route = scope.get("path_template") or "unmatched"
            self.metrics.observe(method, route, status or 500, elapsed)
            request_id.reset(token)
