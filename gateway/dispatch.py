"""The gateway's front door: proxied prefixes go straight to the proxy, the rest to Litestar.

Litestar's router costs a scope-state object, a trie walk, a scope copy and an exception
middleware per request; the proxy needs none of them, so proxied paths skip it. Errors the
proxy raises become problem+json through the one mapping (`shop.runtime.problems`), as they would
inside Litestar. The runtime's instrumentation (request ids, metrics) still wraps both.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException

from gateway.transport_security import HEADER, with_header
from shop.runtime.errors import ShopError
from shop.runtime.problems import from_http, from_shop_error, from_unexpected

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("gateway")


class Guarded:
    """Turns the proxy's exceptions into problem responses (when nothing was sent yet)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await guarded(self.app, scope, receive, send)


async def guarded(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, hsts: bytes | None = None
) -> None:
    """Run `app`; an exception before its answer started becomes a problem response. With
    `hsts`, the answer to a request that came over HTTPS carries that header
    (`gateway.transport_security`)."""
    started = False
    secure = hsts is not None and scope.get("scheme") == "https"

    async def tracked(message: Any) -> None:
        nonlocal started
        started = True
        if secure and message["type"] == "http.response.start":
            message = with_header(message, HEADER, hsts)  # type: ignore[arg-type]
        await send(message)

    try:
        await app(scope, receive, tracked)
    except Exception as exc:
        if started:
            raise  # mid-stream: the server closes the connection
        request: Request[Any, Any, Any] = Request(scope, receive)
        if isinstance(exc, ShopError):
            response = from_shop_error(request, exc)
        elif isinstance(exc, HTTPException):
            response = from_http(request, exc)
        else:
            response = from_unexpected(request, exc)
        await response.to_asgi_response(app=None, request=request)(scope, receive, tracked)


class Dispatch:
    """Proxied prefixes to `proxy`, the rest to `rest`. With `guard`, the proxy's errors become
    problem responses here (as `Guarded` would, one layer fewer on the hot path), and `hsts`
    is added here to the proxied answers (`rest` adds its own)."""

    def __init__(
        self,
        proxy: ASGIApp,
        rest: ASGIApp,
        prefixes: list[str],
        *,
        guard: bool = False,
        hsts: bytes | None = None,
    ) -> None:
        self.proxy = proxy
        self.rest = rest
        self.segments = frozenset(prefix.strip("/") for prefix in prefixes)
        self.guard = guard
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            path: str = scope["path"]
            end = path.find("/", 1)
            segment = path[1:] if end < 0 else path[1:end]
            if segment in self.segments or path.startswith("//"):  # `//x`: refused there (400)
                if self.guard:
                    await guarded(self.proxy, scope, receive, send, self.hsts)
                else:
                    await self.proxy(scope, receive, send)
                return
        await self.rest(scope, receive, send)
