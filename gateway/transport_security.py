"""HSTS (RFC 6797) on the gateway's answers to requests that arrived over HTTPS.

The scheme is the server's: uvicorn takes `X-Forwarded-Proto` only from `TRUSTED_PROXIES`
(in the cluster Knative's queue-proxy, ingress and activator, which pass on what the
TLS-terminating ingress set; locally nothing). A browser ignores the header on a plain-HTTP
answer (RFC 6797 §8.1), so it is sent only where it counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.enums import ScopeType

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"strict-transport-security"


class StrictTransportSecurity:
    def __init__(self, app: ASGIApp, max_age_seconds: int) -> None:
        self.app = app
        self.value = f"max-age={max_age_seconds}".encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = with_header(message, HEADER, self.value)
            await send(message)

        await self.app(scope, receive, send_with_header)


def with_header(message: Message, name: bytes, value: bytes) -> Message:
    """The response start `message` with `name: value` added, unless it has that header."""
    headers: list[tuple[bytes, bytes]] = list(message.get("headers", ()))  # type: ignore[call-overload]
    if not any(found.lower() == name for found, _ in headers):
        headers.append((name, value))
    return {**message, "headers": headers}  # type: ignore[return-value]
