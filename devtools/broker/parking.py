"""Dead letters the dead-letter sink refused, kept on disk and offered again until it takes them.

Knative's channel drops an event whose dead-letter sink is down too; the local broker keeps it
instead (`<SHOP_DATA_DIR>/broker-parked.jsonl`), so a dead letter is never lost, even across a
restart of the broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec

from shop.events.ce import CloudEvent
from shop.runtime.background import Background

log = logging.getLogger("devtools.broker.parking")


class Parked(msgspec.Struct, frozen=True):
    trigger: str
    event: CloudEvent
    trace: dict[str, str]


Offer = Callable[[Parked], Awaitable[bool]]


class Parking:
    def __init__(self, path: Path, *, every: float = 10.0) -> None:
        self.path = path
        self.every = every
        self.items: list[Parked] = []
        self._loops = Background()
        if path.exists():
            decoder = msgspec.json.Decoder(Parked)
            self.items = [decoder.decode(line) for line in path.read_bytes().splitlines() if line]

    def park(self, item: Parked) -> None:
        self.items.append(item)
        self._save()
        log.error(
            "dead-letter sink unreachable: event parked",
            extra={"event_id": item.event.id, "trigger": item.trigger, "parked": len(self.items)},
        )

    async def retry(self, offer: Offer) -> int:
        """Offer every parked item once; the number the sink accepted."""
        kept, accepted = [], 0
        for item in list(self.items):
            if await offer(item):
                accepted += 1
            else:
                kept.append(item)
        if accepted:
            self.items = kept
            self._save()
        return accepted

    def start(self, offer: Offer) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(self.every)
                if self.items:
                    await self.retry(offer)

        self._loops.start("broker-parking", loop)

    async def stop(self) -> None:
        await self._loops.stop()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_bytes(b"".join(msgspec.json.encode(i) + b"\n" for i in self.items))
        temporary.replace(self.path)
