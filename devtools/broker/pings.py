"""The PingSource adapter's local stand-in: fires each PingSource's event on its schedule."""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from devtools.broker.cron import Schedule
from devtools.broker.manifests import Destination, PingSource
from shop.events.ce import CloudEvent, now, to_binary
from shop.events.poster import Poster
from shop.runtime.background import Background

log = logging.getLogger("devtools.broker.pings")


def ping_event(source: PingSource, namespace: str) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=f"/apis/v1/namespaces/{namespace}/pingsources/{source.name}",
        type="dev.knative.sources.ping",
        time=now(),
        datacontenttype=source.content_type,
        data=source.data or None,
    )


class PingScheduler:
    def __init__(
        self,
        sources: list[PingSource],
        resolve: Callable[[Destination], str | None],
        client: Poster,
        namespace: str,
    ) -> None:
        self.sources = [(source, Schedule.parse(source.schedule)) for source in sources]
        self.resolve = resolve
        self.client = client
        self.namespace = namespace
        self._loops = Background()

    def start(self) -> None:
        for source, schedule in self.sources:
            self._loops.start(f"ping-{source.name}", functools.partial(self._run, source, schedule))

    async def stop(self) -> None:
        await self._loops.stop()

    async def _run(self, source: PingSource, schedule: Schedule) -> None:
        while True:
            moment = datetime.now(UTC)
            due = schedule.next_after(moment)
            await asyncio.sleep((due - moment).total_seconds())
            await self.fire(source)

    async def fire(self, source: PingSource) -> int:
        """Send one ping now; returns the status (0 when the sink was unreachable)."""
        url = self.resolve(source.sink)
        if url is None:
            log.info("ping sink not found", extra={"pingsource": source.name})
            return 0
        event = ping_event(source, self.namespace)
        headers, body = to_binary(event)
        if isinstance(event.data, bytes):
            body = event.data
        try:
            response = await self.client.post(url, content=body, headers=headers, seconds=10.0)
        except (OSError, TimeoutError) as exc:
            log.info("ping failed", extra={"pingsource": source.name, "error": repr(exc)})
            return 0
        return response.status_code
