"""Whether the database answers, told once per change: an outage is two log lines (down, up)
and a counter (`db_unavailable_total`) for every unit of work it failed, never a line each."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from shop.db import Database, DatabaseUnavailable, Transaction

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = logging.getLogger("shop.db")


class Availability:
    """The database's last known state, for one instance."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter

        self.up = True
        self.failures = 0
        counter = Counter(
            "db_unavailable_total",
            "Units of work that failed because the database was unreachable or busy.",
            ["service"],
            registry=registry,
        )
        self._counter = counter.labels(service)

    def failed(self, exc: DatabaseUnavailable) -> None:
        self.failures += 1
        self._counter.inc()
        if self.up:
            self.up = False
            log.warning("database unavailable: %s", exc.detail)

    def answered(self) -> None:
        if not self.up:
            self.up = True
            log.warning("database available again after %d failed units of work", self.failures)
            self.failures = 0


class WatchedDatabase:
    """`database`, reporting each unit of work's outcome to `availability`."""

    def __init__(self, database: Database, availability: Availability) -> None:
        self._db = database
        self.dialect = database.dialect
        self.availability = availability

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[Transaction]:
        try:
            async with self._db.transaction(readonly=readonly) as tx:
                yield tx
        except DatabaseUnavailable as exc:
            self.availability.failed(exc)
            raise
        self.availability.answered()

    async def ping(self) -> None:
        try:
            await self._db.ping()
        except DatabaseUnavailable as exc:
            self.availability.failed(exc)
            raise
        self.availability.answered()

    async def close(self) -> None:
        await self._db.close()
