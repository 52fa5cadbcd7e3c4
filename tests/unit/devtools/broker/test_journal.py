from __future__ import annotations

from pathlib import Path

from devtools.broker.journal import Entry, Journal
from shop.events.ce import new_event


def test_journalled_deliveries_are_pending_after_a_reopen_until_marked_done(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    event = new_event("t.v1", "/s", {"n": 1})
    a, b = journal.add([Entry("one", event, {"traceparent": "00-x"}), Entry("two", event, {})])
    assert 0 < a.row < b.row

    reopened = Journal(path)  # the first connection is never closed, as after a kill
    assert [(e.trigger, e.event, e.trace) for e in reopened.pending()] == [
        ("one", event, {"traceparent": "00-x"}),
        ("two", event, {}),
    ]
    reopened.done(a.row)
    assert [e.trigger for e in Journal(path).pending()] == ["two"]


def test_a_parked_delivery_leaves_the_pending_set_and_keeps_its_dead_letter(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    event = new_event("t.v1", "/s", {})
    (entry,) = journal.add([Entry("one", event, {})])
    dead = event.with_extensions(knativeerrorcode="503")
    journal.park(Entry("one", dead, {}, entry.row))

    assert journal.pending() == []
    assert [e.event for e in journal.parked()] == [dead]


def test_the_journal_writes_ahead_and_syncs_every_commit(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    db = journal._db
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def _statements(journal: Journal) -> list[str]:
    seen: list[str] = []
    journal._db.set_trace_callback(seen.append)
    return seen


def test_an_accepted_delivery_is_synced_and_a_finished_one_is_deleted_without_a_sync(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    seen = _statements(journal)
    (entry,) = journal.add([Entry("one", new_event("t.v1", "/s", {}), {})])
    journal.done(entry.row)

    assert [s.split(" (")[0] for s in seen] == [
        "BEGIN IMMEDIATE",
        "INSERT INTO deliveries",  # under synchronous=FULL: on disk at its COMMIT
        "COMMIT",
        "PRAGMA synchronous=NORMAL",  # a lost delete only redelivers: no fsync for it
        "BEGIN IMMEDIATE",
        "DELETE FROM deliveries WHERE id = 1",
        "COMMIT",
        "PRAGMA synchronous=FULL",
    ]
    assert journal._db.execute("PRAGMA synchronous").fetchone() == (2,)


async def test_the_broker_writes_and_finishes_deliveries_on_the_journals_own_thread(
    tmp_path: Path,
) -> None:
    import threading

    journal = Journal(tmp_path / "journal.sqlite3")
    threads: set[str] = set()
    journal._db.set_trace_callback(lambda _: threads.add(threading.current_thread().name))
    (entry,) = await journal.write([Entry("one", new_event("t.v1", "/s", {}), {})])
    await journal.finish(entry.row)
    journal._db.set_trace_callback(None)

    assert threads == {"broker-journal_0"}  # never the event loop's: a sync never blocks it
    assert journal.pending() == []
    journal.close()
