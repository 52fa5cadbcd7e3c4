"""Dead letters the dead-letter sink refused, kept in the journal and offered again until taken.

Knative's channel drops an event whose dead-letter sink is down too; the local broker keeps it
instead, as a parked row of its journal (devtools/broker/journal.py), so a dead letter is never
lost, even across a kill of the broker. Each row is deleted by its own key once the sink takes it,
so a letter parked while a retry pass is under way is never touched by that pass.

An outage of the sink logs its changes of state, not a line per letter: the first letter
parked, and the pass that leaves none parked (the `broker_deliveries` metric counts each one).
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
        self._outage = False  # a letter parked since the last pass that left none

    @property
    def items(self) -> list[Parked]:
        return self.journal.parked()

    def park(self, item: Parked) -> Parked:
        parked = self.journal.park(item)
        extra = {"event_id": item.event.id, "trigger": item.trigger}
        if not self._outage:
            self._outage = True
            log.error("dead-letter sink unreachable: parking its letters", extra=extra)
        else:
            log.debug("dead letter parked", extra=extra)
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
        if self._outage and not self.journal.parked():
            self._outage = False
            log.warning("dead-letter sink back: every parked letter taken")
        return accepted

    def start(self, offer: Offer) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(self.every)
                await self.retry(offer)

        self._loops.start("broker-parking", loop)

    async def stop(self) -> None:
        await self._loops.stop()
