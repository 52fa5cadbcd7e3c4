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

from shop.http import origins
from shop.http.exchange import Reply, exchange
from shop.http.http1 import Broken
from shop.http.pools import Pools

Token = Callable[[str], str | None]
"""The bearer token to present on a request to a URL, if any."""


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
    ) -> Reply:
        """The answer, within `seconds` (default: the poster's timeout)."""
        base, path = origins.split(url)
        token = self.token(url) if self.token is not None else None
        if token:
            headers = {**headers, "authorization": f"Bearer {token}"}
        seconds = seconds or self.timeout
        deadline = asyncio.get_running_loop().time() + seconds
        try:
            return await exchange(self.pools, "POST", base, path or "/", headers, content, seconds)
        except Broken:  # e.g. a keep-alive connection closed as it was reused: once more
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError from None
            return await exchange(self.pools, "POST", base, path or "/", headers, content, left)

    def close(self) -> None:
        self.pools.close()

    async def aclose(self) -> None:
        """For `runtime.on_close`."""
        self.close()
