"""Calls to upstream instances: pooled keep-alive connections, per-route timeouts, streamed
relays.

The transport is the shared lean client (`shop.http.pools`, whose docstring says why), bounded
per origin and in total; an instance that leaves the registry has its pool forgotten.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from gateway.bodies import BodyTooLarge, Streamed, too_large
from gateway.forwarding import response_headers
from shop.http import http1, origins
from shop.http.pools import Pools

if TYPE_CHECKING:
    from litestar.types import Message, Send

_SMALL_RESPONSE = 65_536
# Why an attempt got no response: the connection was refused (the request never reached the
# instance), broke off, or timed out.
Failure = Literal["refused", "error", "timeout"]


class UpstreamClient:
    def __init__(
        self, *, connect_timeout: float = 2.0, max_idle: int = 100, max_connections: int = 1000
    ) -> None:
        self.pools = Pools(
            connect_timeout=connect_timeout, max_idle=max_idle, max_connections=max_connections
        )

    def forget(self, base: str) -> None:
        """The instance at `base` left the registry."""
        self.pools.forget(base)

    async def close(self) -> None:
        self.pools.close()

    async def request(
        self,
        base: str,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: Any,
        seconds: float,
    ) -> http1.Response | Failure:
        """The response, or "refused", "error" or "timeout"; a 413 for an oversized upload."""
        origin, prefix = self.pools.origin(base)
        length = body.length if isinstance(body, Streamed) else None
        try:
            response = await origins.send(
                origin, method, prefix + target, headers, body, seconds, length
            )
        except (OSError, TimeoutError, BodyTooLarge) as exc:
            if isinstance(body, Streamed) and body.exceeded:
                raise too_large() from None
            return outcome(exc)
        size = response.content_length
        if method != "HEAD" and size is not None and size <= _SMALL_RESPONSE:
            try:  # a small body is part of the attempt: if it breaks off, the call can be retried
                await response.read()
            except (OSError, TimeoutError) as exc:
                response.release()
                return outcome(exc)
        return response

    async def relay(
        self,
        response: http1.Response,
        method: str,
        extra: list[tuple[bytes, bytes]],
        send: Send,
    ) -> None:
        """Stream `response` to the client: hop-by-hop headers out, `extra` headers in."""
        try:
            headers = response_headers(response.headers)
            if extra:
                headers.extend(extra)
            start: Message = {
                "type": "http.response.start",
                "status": response.status,
                "headers": headers,
            }
            length = response.content_length
            if method == "HEAD":
                await send(start)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            elif length is not None and length <= _SMALL_RESPONSE:
                data = await response.read()
                await send(start)
                await send({"type": "http.response.body", "body": data, "more_body": False})
            else:
                await send(start)
                async for chunk in response.chunks():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            response.release()


def outcome(exc: BaseException) -> Failure:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, http1.Refused):
        return "refused"
    return "error"
