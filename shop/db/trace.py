"""Client spans for every statement, at the database port (both PostgreSQL and SQLite).

Tracing at the port rather than in the drivers keeps the spans in the request's trace: the
SQLite adapter runs statements on its own thread, where the driver-level instrumentation
would start unrelated root spans. Statements are parameterised, so no value is recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from shop.db import Database, Row, Transaction
from shop.runtime import telemetry


def traced(database: Database) -> Database:
    """`database` itself when tracing is off; else one that spans every statement."""
    return TracedDatabase(database) if telemetry.enabled() else database


class TracedDatabase:
    def __init__(self, database: Database) -> None:
        self._db = database
        self.dialect = database.dialect

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[Transaction]:
        async with self._db.transaction(readonly=readonly) as tx:
            yield TracedTransaction(tx, self.dialect)

    async def ping(self) -> None:
        await self._db.ping()

    async def close(self) -> None:
        await self._db.close()


class TracedTransaction:
    def __init__(self, tx: Transaction, dialect: str) -> None:
        self._tx = tx
        self._system = dialect
        self.events = tx.events  # one unit of work: the wrapped transaction's own list

    def _span(self, sql: str) -> Any:
        operation = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "SQL"
        return telemetry.span(
            operation,
            kind="client",
            attributes={"db.system": self._system, "db.statement": sql},
        )

    async def execute(self, sql: str, *args: Any) -> int:
        with self._span(sql):
            return await self._tx.execute(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        with self._span(sql):
            return await self._tx.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        with self._span(sql):
            return await self._tx.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        with self._span(sql):
            return await self._tx.fetchval(sql, *args)

    async def lock(self, key: int) -> None:
        await self._tx.lock(key)
