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

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

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
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        header = (b"x-request-id", rid.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = request_id.set(rid)
        in_flight = self.metrics.requests_in_flight
        in_flight.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            in_flight.dec()
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            route = scope.get("path_template") or "unmatched"
            self.metrics.observe(method, route, status, elapsed)
            request_id.reset(token)
