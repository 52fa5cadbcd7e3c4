"""The gateway's front door: proxied prefixes go straight to the proxy, the rest to Litestar.

Litestar's router costs a scope-state object, a trie walk, a scope copy and an exception
middleware per request; the proxy needs none of them, so proxied paths skip it. The dispatch
replaces the runtime's instrumentation as Litestar's ASGI handler: the rest goes through the
instrumentation as before, and a proxied request is instrumented (request id, metrics,
`Connection: close` while draining), has its errors turned into problem+json through the one
mapping (`shop.runtime.problems`) and gets HSTS, all in that one layer.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from litestar.enums import ScopeType

from gateway.transport_security import HEADER, with_header
from shop.runtime.problems import answer_problem

if TYPE_CHECKING:
    from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

    from shop.runtime.instrumentation import Instrumentation

log = logging.getLogger("gateway")


class Guarded:
    """Turns the proxy's exceptions into problem responses (when nothing was sent yet)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started:
                raise  # mid-stream: the server closes the connection
            await answer_problem(exc, scope, receive, tracked)


class Dispatch:
    """Proxied prefixes to `proxy`, instrumented by `instrumented` in the same layer; the rest
    to `instrumented` itself (whose app is the rest of the gateway). With `guard`, the proxy's
    errors become problem responses here (as `Guarded` would), and with `hsts` the proxied
    answers to HTTPS requests carry that header (`rest` adds its own)."""

    def __init__(
        self,
        proxy: ASGIApp,
        instrumented: Instrumentation,
        prefixes: list[str],
        *,
        guard: bool = False,
        hsts: bytes | None = None,
    ) -> None:
        self.proxy = proxy
        self.instrumented = instrumented
        self.segments = frozenset(prefix.strip("/") for prefix in prefixes)
        self.guard = guard
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            path: str = scope["path"]
            end = path.find("/", 1)
            segment = path[1:] if end < 0 else path[1:end]
            if segment in self.segments or path.startswith("//"):  # `//x`: refused there (400)
                secure = self.hsts is not None and scope.get("scheme") == "https"
                await self.instrumented.handle(
                    self.proxy,
                    scope,
                    receive,
                    send,
                    amend=self._with_hsts if secure else None,
                    guard=self.guard,
                )
                return
        await self.instrumented(scope, receive, send)

    def _with_hsts(self, message: HTTPResponseStartEvent) -> HTTPResponseStartEvent:
        assert self.hsts is not None
        return with_header(message, HEADER, self.hsts)  # type: ignore[return-value]
