"""The local broker's journal: every accepted delivery, on disk before the ingress answers 202.

One row per (event, Trigger) delivery, in SQLite (stdlib, embedded in the data directory) with
write-ahead logging and `synchronous=FULL`, so a committed row survives a kill of the broker and a
power cut alike. A row is deleted when its event is delivered or taken by the dead-letter sink;
that delete commits without a sync (`synchronous=NORMAL` for it alone): it survives a kill, and
a power cut can at worst bring the delivery back, which is redelivered (consumers dedupe). A
dead letter the sink refused stays as a *parked* row. At start-up the broker delivers the pending
rows again, so a crash or a stop only delays events (consumers dedupe on source and id).
SQLite rather than a hand-written log: atomic commits, crash recovery and deletes by key for free.

The broker writes from its own thread (`write`, `finish`): a sync (1-10 ms on a busy disk) never
holds up its event loop. The methods are safe to call from any thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import msgspec

from shop.events.ce import CloudEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger TEXT NOT NULL,
    event BLOB NOT NULL,
    trace BLOB NOT NULL,
    parked INTEGER NOT NULL DEFAULT 0
)
"""


class Entry(msgspec.Struct, frozen=True):
    """One journalled delivery: `row` is its key in the journal (0 until written)."""

    trigger: str
    event: CloudEvent
    trace: dict[str, str]
    row: int = 0


T = TypeVar("T")
_event = msgspec.json.Decoder(CloudEvent)
_trace = msgspec.json.Decoder(dict[str, str])


class Journal:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(
            path, isolation_level=None, timeout=10.0, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(SCHEMA)
        self._lock = threading.Lock()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="broker-journal")

    async def write(self, entries: Iterable[Entry]) -> list[Entry]:
        """`add`, on the journal's thread."""
        return await self._off_loop(self.add, list(entries))

    async def finish(self, row: int) -> None:
        """`done`, on the journal's thread."""
        await self._off_loop(self.done, row)

    async def _off_loop(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def add(self, entries: Iterable[Entry]) -> list[Entry]:
        """Write the entries in one transaction; they are durable when this returns."""
        written: list[Entry] = []
        with self._transaction():
            for entry in entries:
                cursor = self._db.execute(
                    "INSERT INTO deliveries (trigger, event, trace) VALUES (?, ?, ?)",
                    (entry.trigger, msgspec.json.encode(entry.event), _encode(entry.trace)),
                )
                assert cursor.lastrowid is not None
                written.append(msgspec.structs.replace(entry, row=cursor.lastrowid))
        return written

    def done(self, row: int) -> None:
        """The delivery `row` is finished: delivered, or taken by the dead-letter sink. Not
        synced: lost only to a power cut, which redelivers the event."""
        with self._transaction(synced=False):
            self._db.execute("DELETE FROM deliveries WHERE id = ?", (row,))

    def park(self, entry: Entry) -> Entry:
        """Keep `entry` (a dead letter the sink refused) until the sink takes it."""
        event, trace = msgspec.json.encode(entry.event), _encode(entry.trace)
        with self._transaction():
            if entry.row:
                self._db.execute(
                    "UPDATE deliveries SET event = ?, trace = ?, parked = 1 WHERE id = ?",
                    (event, trace, entry.row),
                )
                return entry
            cursor = self._db.execute(
                "INSERT INTO deliveries (trigger, event, trace, parked) VALUES (?, ?, ?, 1)",
                (entry.trigger, event, trace),
            )
        assert cursor.lastrowid is not None
        return msgspec.structs.replace(entry, row=cursor.lastrowid)

    def pending(self) -> list[Entry]:
        return self._select(parked=False)

    def parked(self) -> list[Entry]:
        return self._select(parked=True)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        with self._lock:
            self._db.close()

    def _select(self, *, parked: bool) -> list[Entry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, trigger, event, trace FROM deliveries WHERE parked = ? ORDER BY id",
                (int(parked),),
            ).fetchall()
        return [
            Entry(trigger, _event.decode(event), _trace.decode(trace), row)
            for row, trigger, event, trace in rows
        ]

    def _transaction(self, *, synced: bool = True) -> _Transaction:
        return _Transaction(self._db, self._lock, synced=synced)


class _Transaction:
    """One write under the journal's lock; `synced=False` commits without an fsync."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock, *, synced: bool) -> None:
        self.db = db
        self.lock = lock
        self.synced = synced

    def __enter__(self) -> None:
        self.lock.acquire()
        try:
            if not self.synced:
                self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._restore()
            raise

    def __exit__(self, kind: object, *_: object) -> None:
        try:
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            self._restore()

    def _restore(self) -> None:
        try:
            if not self.synced:
                self.db.execute("PRAGMA synchronous=FULL")
        finally:
            self.lock.release()


def _encode(trace: Mapping[str, str]) -> bytes:
    return msgspec.json.encode(dict(trace))
