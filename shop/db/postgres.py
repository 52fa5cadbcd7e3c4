"""The PostgreSQL adapter (asyncpg): a small pool, one connection per transaction.

A connection goes back to the pool without asyncpg's default reset query (advisory unlock,
`CLOSE ALL`, `UNLISTEN *`, `RESET ALL`: one more round trip per transaction). Nothing here
leaves session state behind: locks are transaction-scoped (`pg_advisory_xact_lock`), there
are no cursors, listeners or `SET`s, and asyncpg still rolls back a transaction left open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg

from shop.db import DatabaseError, DatabaseUnavailable, IntegrityError, Row


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
        with _translated():
            await self._connection.execute("SELECT pg_advisory_xact_lock($1)", key)


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._attempts = pool.get_max_size() + 1  # every pooled connection may be stale

    @classmethod
    async def open(
        cls, url: str, *, pool_size: int, busy_timeout: float = 10.0
    ) -> PostgresDatabase:
        with _translated():
            pool = await asyncpg.create_pool(
                url,
                # no floor: asyncpg keeps one by reconnecting in the background, with a
                # traceback per attempt while the server is down (we log the outage once)
                min_size=0,
                max_size=pool_size,
                max_inactive_connection_lifetime=60.0,
                command_timeout=busy_timeout,
                timeout=5.0,
                reset=_keep_session,
            )
        return cls(pool)

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[PostgresTransaction]:
        connection, tx = await self._begin(readonly)
        broken = False
        try:
            try:
                yield PostgresTransaction(connection)
            except BaseException:
                with _translated():
                    await tx.rollback()
                raise
            with _translated():
                await tx.commit()
        except DatabaseUnavailable:
            broken = True
            raise
        finally:
            if broken:
                await self._discard(connection)
            else:
                await self._release(connection)

    async def _begin(self, readonly: bool) -> tuple[Any, Any]:
        """A connection in a new transaction. A pooled connection that died while idle (the
        server restarted) fails at BEGIN, before anything happened: another one is taken."""
        for attempt in range(self._attempts):
            with _translated():
                connection = await self._pool.acquire()
            try:
                tx = connection.transaction(readonly=readonly)
                with _translated():
                    await tx.start()
                return connection, tx
            except DatabaseUnavailable:
                await self._discard(connection)
                if attempt + 1 == self._attempts:
                    raise
            except BaseException:  # cancelled mid-BEGIN: its state unknown, never leaked
                await asyncio.shield(self._discard(connection))
                raise
        raise AssertionError("unreachable")

    async def _release(self, connection: Any) -> None:
        with _translated():
            await self._pool.release(connection)

    async def _discard(self, connection: Any) -> None:
        """A broken connection: closed and handed back, so the pool opens a new one in its
        place. asyncpg may have detached it already; nothing more is to be done then."""
        with contextlib.suppress(asyncpg.InterfaceError):
            connection.terminate()
        with contextlib.suppress(Exception):
            await self._pool.release(connection)

    async def ping(self) -> None:
        with _translated():
            async with self._pool.acquire(timeout=2.0) as connection:
                await connection.fetchval("SELECT 1")

    async def close(self) -> None:
        await self._pool.close()


async def _keep_session(connection: Any) -> None:
    """The pool's reset: nothing (asyncpg has already rolled back any open transaction)."""


# What says the server is unreachable, restarting, shutting down, out of connections, or the
# connection broke (asyncpg's InterfaceError and InternalClientError on a dead connection).
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.TransactionRollbackError,  # deadlock, serialization: try again
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(str(exc)) from exc
    except UNAVAILABLE as exc:
        raise DatabaseUnavailable() from exc
    except asyncpg.PostgresError as exc:
        raise DatabaseError(str(exc)) from exc
