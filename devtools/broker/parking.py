"""Dead letters the dead-letter sink refused, kept in the journal and offered again until taken.

Knative's channel drops an event whose dead-letter sink is down too; the local broker keeps it
instead, as a parked row of its journal (devtools/broker/journal.py), so a dead letter is never
lost, even across a kill of the broker. Each row is deleted by its own key once the sink takes it,
so a letter parked while a retry pass is under way is never touched by that pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec

from devtools.broker.journal import Entry, Journal
from shop.runtime.background import Background

log = logging.getLogger("devtools.broker.parking")
Parked = Entry
Offer = Callable[[Parked], Awaitable[bool]]
LEGACY_FILE = "broker-parked.jsonl"  # where parked letters lived before the journal


class Parking:
    def __init__(self, journal: Journal, *, every: float = 10.0) -> None:
        self.journal = journal
        self.every = every
        self._loops = Background()

    @property
    def items(self) -> list[Parked]:
        return self.journal.parked()

    def park(self, item: Parked) -> Parked:
        parked = self.journal.park(item)
        log.error(
            "dead-letter sink unreachable: event parked",
            extra={"event_id": item.event.id, "trigger": item.trigger},
        )
        return parked

    def adopt(self, legacy: Path) -> int:
        """Move the letters of a `broker-parked.jsonl` of an older broker into the journal."""
        if not legacy.exists():
            return 0
        decoder = msgspec.json.Decoder(Parked)
        found = [decoder.decode(line) for line in legacy.read_bytes().splitlines() if line]
        for item in found:
            self.journal.park(msgspec.structs.replace(item, row=0))
        legacy.unlink()
        return len(found)

    async def retry(self, offer: Offer) -> int:
        """Offer every parked item once; the number the sink accepted."""
        accepted = 0
        for item in self.journal.parked():
            if await offer(item):
                self.journal.done(item.row)
                accepted += 1
        return accepted

    def start(self, offer: Offer) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(self.every)
                await self.retry(offer)

        self._loops.start("broker-parking", loop)

    async def stop(self) -> None:
        await self._loops.stop()
