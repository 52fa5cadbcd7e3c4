"""The persistence port every function uses: a transaction with parameterised queries.

SQL is written once, in PostgreSQL's `$1` parameter style, in the subset both PostgreSQL and
SQLite (>= 3.35) understand (`RETURNING`, `ON CONFLICT ... DO NOTHING`, integer timestamps).
Drivers are imported lazily by `shop.db.attach.open_database`, inside the service's lifespan.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from shop.runtime.errors import Unavailable

Row = Mapping[str, Any]


class DatabaseError(Exception):
    """The database refused or failed a statement."""


class IntegrityError(DatabaseError):
    """A constraint (unique, check, foreign key) refused a write."""


RETRY_AFTER = 2  # seconds: a restart or a lock held a moment


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached or is busy (restarting, locked): a 503 with Retry-After,
    mapped here from each driver's errors so no caller sees a driver's exception."""

    def __init__(self, detail: str = "The database is unavailable; please try again.") -> None:
        super().__init__(detail, retry_after=RETRY_AFTER)


class Transaction(Protocol):
    """One unit of work. `events` collects the ids of the outbox events it wrote
    (`shop.events.outbox.add` registers each one): whoever opened the transaction may act on
    them once it commits (the relay publishes them at once)."""

    events: list[str]

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; the number of rows it touched."""
        ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchval(self, sql: str, *args: Any) -> Any: ...

    async def lock(self, key: int) -> None:
        """Hold an exclusive lock on `key` until the transaction ends."""
        ...


class Database(Protocol):
    dialect: str

    def transaction(self, *, readonly: bool = False) -> AbstractAsyncContextManager[Transaction]:
        """One unit of work: commits when the block ends, rolls back if it raises."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
