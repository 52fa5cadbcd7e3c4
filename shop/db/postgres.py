"""The PostgreSQL adapter (asyncpg): a small pool, one connection per transaction.

A connection goes back to the pool without asyncpg's default reset query (advisory unlock,
`CLOSE ALL`, `UNLISTEN *`, `RESET ALL`: one more round trip per transaction). Nothing here
leaves session state behind: locks are transaction-scoped (`pg_advisory_xact_lock`), there
are no cursors, listeners or `SET`s, and asyncpg still rolls back a transaction left open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg

from shop.db import DatabaseError, IntegrityError, Row


def _count(status: str) -> int:
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PostgresTransaction:
    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self.events: list[str] = []

    async def execute(self, sql: str, *args: Any) -> int:
        with _translated():
            return _count(await self._connection.execute(sql, *args))

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        with _translated():
            return list(await self._connection.fetch(sql, *args))

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        with _translated():
            row: Row | None = await self._connection.fetchrow(sql, *args)
            return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        with _translated():
            return await self._connection.fetchval(sql, *args)

    async def lock(self, key: int) -> None:
        await self._connection.execute("SELECT pg_advisory_xact_lock($1)", key)


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str, *, pool_size: int) -> PostgresDatabase:
        pool = await asyncpg.create_pool(
            url,
            min_size=1,
            max_size=pool_size,
            max_inactive_connection_lifetime=60.0,
            command_timeout=10.0,
            timeout=5.0,
            reset=_keep_session,
        )
        return cls(pool)

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[PostgresTransaction]:
        async with self._pool.acquire() as connection, connection.transaction(readonly=readonly):
            yield PostgresTransaction(connection)

    async def ping(self) -> None:
        async with self._pool.acquire(timeout=2.0) as connection:
            await connection.fetchval("SELECT 1")

    async def close(self) -> None:
        await self._pool.close()


async def _keep_session(connection: Any) -> None:
    """The pool's reset: nothing (asyncpg has already rolled back any open transaction)."""


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(str(exc)) from exc
    except asyncpg.PostgresError as exc:
        raise DatabaseError(str(exc)) from exc
