"""POSTing events over HTTP on the lean client (`shop.http`): the outbox relay's publishes to
the broker, and the local broker's deliveries and pings.

Why not httpx: on this path it costs ~2 ms of CPU per call against ~0.1 ms for the lean client
(BENCHMARKS.md, "HTTP clients"), and an event crosses two such hops on its way to the inbox.
Connections are kept alive per origin. A request whose connection broke before any answer
(a keep-alive connection the server had just closed, say) is sent once more on a fresh one:
events are delivered at least once anyway and consumers dedupe on (source, id).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shop.http import origins
from shop.http.http1 import Broken
from shop.http.pools import Pools

Token = Callable[[str], str | None]
"""The bearer token to present on a request to a URL, if any."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A receiver's answer, read in full; header names in lower case."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


class Poster:
    """Failures raise `OSError` (`ConnectionError`: refused, broken) or `TimeoutError`."""

    def __init__(
        self,
        *,
        token: Token | None = None,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
        max_connections: int = 100,
        max_idle: int = 16,
    ) -> None:
        self.token = token
        self.timeout = timeout
        self.pools = Pools(
            connect_timeout=connect_timeout, max_idle=max_idle, max_connections=max_connections
        )

    async def post(
        self,
        url: str,
        *,
        content: bytes,
        headers: Mapping[str, str],
        seconds: float | None = None,
    ) -> Answer:
        """The answer, within `seconds` (default: the poster's timeout)."""
        base, path = origins.split(url)
        origin, prefix = self.pools.origin(base)
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        token = self.token(url) if self.token is not None else None
        if token:
            raw.append((b"authorization", b"Bearer " + token.encode("latin-1")))
        seconds = seconds or self.timeout
        target = prefix + path or "/"
        async with asyncio.timeout(seconds):
            try:
                response = await origins.send(origin, "POST", target, raw, content, seconds)
            except Broken:  # e.g. a keep-alive connection closed as it was reused: once more
                response = await origins.send(origin, "POST", target, raw, content, seconds)
            try:
                body = await response.read()
            finally:
                response.release()
        found = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
        return Answer(response.status, found, body)

    def close(self) -> None:
        self.pools.close()

    async def aclose(self) -> None:
        """For `runtime.on_close`."""
        self.close()
