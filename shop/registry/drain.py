"""Notices the start of Knative's drain, which the user container is never told about.

On pod deletion queue-proxy starts draining (on its SIGTERM, or on the user container's preStop
`GET :8022/wait-for-drain`, which Knative itself sets), and only after a quiet period with no
request (30 s, restarted by every request) does kubelet send SIGTERM to us. Meanwhile the
gateway, which calls pods directly from the registry, would keep the quiet period from ever
ending. Knative's Drainer (knative.dev/pkg/network/handlers/drain.go) answers a request with
`K-Network-Probe: probe` itself, 200 echoing `K-Network-Hash` while serving and 503 once
draining, without restarting the quiet period or reaching us; so we ask it every second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("shop.registry.drain")
PROBE_HEADERS = {"K-Network-Probe": "probe", "K-Network-Hash": "shop-drain-watch"}


class DrainWatch:
    def __init__(self, url: str, on_drain: Callable[[], Awaitable[None]], interval: float = 1.0):
        self.url = url.rstrip("/") + "/"
        self.on_drain = on_drain
        self.interval = interval

    async def run(self) -> None:
        """Probe until queue-proxy says it drains, then call `on_drain` once."""
        import httpx

        async with httpx.AsyncClient(timeout=max(self.interval, 0.5)) as client:
            while True:
                if await self._draining(client):
                    break
                await asyncio.sleep(self.interval)
        log.info("queue-proxy is draining: leaving the registry")
        await self.on_drain()

    async def _draining(self, client: httpx.AsyncClient) -> bool:
        import httpx

        try:
            response = await client.get(self.url, headers=PROBE_HEADERS)
        except httpx.HTTPError:
            return False  # not up yet, or gone: SIGTERM tells us the rest
        return response.status_code == 503
