"""Calls to upstream instances: pooled keep-alive connections, per-route timeouts, streamed
relays.

The transport is `shop.http.http1` with `shop.http.origins` rather than httpx or aiohttp: the
benchmark measures httpx's pool, httpx over the `httpx-aiohttp` transport, aiohttp and
`shop.http.http1` side by side, and the proxy passes bytes through, so it needs none of a
general client's cookies, URL objects, header multidicts or decompression, which cost most of
its CPU per request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from gateway.bodies import BodyTooLarge, Streamed, too_large
from gateway.forwarding import response_headers
from shop.http import http1, origins

if TYPE_CHECKING:
    from litestar.types import Message, Send

_SMALL_RESPONSE = 65_536
# Why an attempt got no response: the connection was refused (the request never reached the
# instance), broke off, or timed out.
Failure = Literal["refused", "error", "timeout"]


class UpstreamClient:
    def __init__(self, *, connect_timeout: float = 2.0) -> None:
        self.connect_timeout = connect_timeout
        self._origins: dict[str, tuple[origins.Origin, str]] = {}

    async def close(self) -> None:
        for origin, _ in self._origins.values():
            origin.close()
        self._origins.clear()

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
        found = self._origins.get(base)
        if found is None:
            found = self._origins[base] = self._origin(base)
        origin, prefix = found
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

    def _origin(self, base: str) -> tuple[origins.Origin, str]:
        root, prefix = origins.split(base)
        scheme, host, port = origins.origin_key(root)
        return origins.Origin(scheme, host, port, self.connect_timeout), prefix

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
