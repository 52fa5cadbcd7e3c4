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
