"""The embedded SQLite adapter: one connection on one thread, WAL, `BEGIN IMMEDIATE` writes.

Writers from other processes (replicas sharing the file) wait on SQLite's lock (busy timeout);
inside a process an asyncio lock keeps one unit of work at a time on the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from shop.db import DatabaseError, DatabaseUnavailable, IntegrityError, Row

T = TypeVar("T")
_PARAMETER = re.compile(r"\$(\d+)")


@functools.lru_cache(maxsize=512)
def _sqlite_sql(sql: str) -> str:
    return _PARAMETER.sub(r"?\1", sql)


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


class SqliteTransaction:
    def __init__(self, database: SqliteDatabase) -> None:
        self._db = database
        self.events: list[str] = []

    async def execute(self, sql: str, *args: Any) -> int:
        return await self._db.run(lambda c: c.execute(_sqlite_sql(sql), args).rowcount)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._db.run(lambda c: c.execute(_sqlite_sql(sql), args).fetchall())

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = await self._db.run(lambda c: c.execute(_sqlite_sql(sql), args).fetchone())
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else next(iter(row.values()))

    async def lock(self, key: int) -> None:
        """`BEGIN IMMEDIATE` already holds the database's write lock."""


def _enable_wal(connection: sqlite3.Connection, *, deadline: float = 15.0) -> None:
    """Switch the file to WAL, retrying: the switch skips the busy handler when it races."""
    give_up = time.monotonic() + deadline
    delay = 0.005
    while True:
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()["journal_mode"] != "wal":
                connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > give_up:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _make_private(path: Path) -> None:
    """The database file readable by its owner only (0600, like the secrets beside it), made
    so before SQLite opens it: SQLite gives its -wal and -shm files the database file's mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        with contextlib.suppress(FileNotFoundError):
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
    return "locked" in str(exc)


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, path: str, *, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite")
        self._lock = asyncio.Lock()
        self._connection: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: str, *, busy_timeout: float = 5.0) -> SqliteDatabase:
        database = cls(path, timeout=busy_timeout)
        database._connection = await database._call(database._connect)
        return database

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            _make_private(Path(self.path))
        connection = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        connection.row_factory = _dict_row
        _enable_wal(connection)
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        connection = self._connection
        assert connection is not None, "database is closed"

        def call() -> T:
            try:
                return fn(connection)
            except sqlite3.IntegrityError as exc:
                raise IntegrityError(str(exc)) from exc
            except sqlite3.OperationalError as exc:
                if _busy(exc):  # another process held the lock past the busy timeout
                    raise DatabaseUnavailable() from exc
                raise DatabaseError(str(exc)) from exc
            except sqlite3.Error as exc:
                raise DatabaseError(str(exc)) from exc

        return await self._call(call)

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[SqliteTransaction]:
        async with self._lock:
            try:
                await self.run(lambda c: c.execute("BEGIN" if readonly else "BEGIN IMMEDIATE"))
            except BaseException:
                # Cancelled while it waits for the write lock, the BEGIN still runs on the
                # thread: rolled back after it, or the connection stays in a transaction (each
                # later BEGIN fails, and the file's write lock is held until the process ends).
                await asyncio.shield(self._rollback())
                raise
            try:
                yield SqliteTransaction(self)
            except BaseException:
                # Submitted at once: the single worker runs it before any later BEGIN.
                await asyncio.shield(self._rollback())
                raise
            try:
                await self.run(lambda c: c.execute("COMMIT"))
            except BaseException:
                await asyncio.shield(self._rollback())  # never leave the connection in one
                raise

    async def _rollback(self) -> None:
        await self.run(lambda c: c.execute("ROLLBACK") if c.in_transaction else None)

    async def ping(self) -> None:
        await self.run(lambda c: c.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await self._call(connection.close)
        self._executor.shutdown(wait=False)
