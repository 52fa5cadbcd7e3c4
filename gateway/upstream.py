"""Calls to upstream instances: one aiohttp session, per-route timeouts, streamed relays.

aiohttp rather than httpx on the hot path: the benchmark measures httpx's pool, httpx over
the `httpx-aiohttp` transport and aiohttp side by side, and only aiohttp keeps the proxy's CPU
per request low. The session has no cookie jar (it serves everyone) and adds no headers or
decompression of its own: the proxy passes bytes through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from gateway.bodies import BodyTooLarge, Streamed, too_large
from gateway.forwarding import response_headers

if TYPE_CHECKING:
    from litestar.types import Message, Send

_SMALL_RESPONSE = 65_536


class UpstreamClient:
    def __init__(self, *, connect_timeout: float = 2.0) -> None:
        self.connect_timeout = connect_timeout
        self.session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float, float], aiohttp.ClientTimeout] = {}

    def open(self) -> None:
        """In the lifespan: the one session, with keep-alive connections to every instance."""
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=30),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def request(
        self,
        base: str,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: Any,
        seconds: float,
    ) -> aiohttp.ClientResponse | str:
        """The response, or "refused", "error" or "timeout"; a 413 for an oversized upload."""
        assert self.session is not None
        try:
            return await self.session.request(
                method,
                URL(base + target, encoded=True),
                headers=headers,
                data=body,
                timeout=self._timeout(seconds),
                allow_redirects=False,
            )
        except (aiohttp.ClientError, TimeoutError, BodyTooLarge) as exc:
            if isinstance(body, Streamed) and body.exceeded:
                raise too_large() from None
            return outcome(exc)

    async def relay(
        self,
        response: aiohttp.ClientResponse,
        method: str,
        extra: list[tuple[bytes, bytes]],
        send: Send,
    ) -> None:
        """Stream `response` to the client: hop-by-hop headers out, `extra` headers in."""
        try:
            headers = response_headers(response.raw_headers)
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
                async for chunk in response.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            response.release()

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        key = (seconds, self.connect_timeout)
        timeout = self._timeouts.get(key)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(
                total=None,
                sock_connect=min(seconds, self.connect_timeout),
                sock_read=seconds,
            )
            self._timeouts[key] = timeout
        return timeout


def outcome(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "refused"
    return "error"
