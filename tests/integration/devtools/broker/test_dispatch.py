"""The broker's dispatcher in process, on a real journal file and a real HTTP subscriber: a
delivery starts while its journal write syncs, and the ingress answers only once it is on disk."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from devtools.broker.dispatch import Dispatcher
from devtools.broker.journal import Entry, Journal
from devtools.broker.manifests import Destination, load
from devtools.broker.parking import Parking
from shop.events.ce import new_event
from shop.events.poster import Poster
from tests.support.recorder import Recorder

pytestmark = pytest.mark.integration

MANIFESTS = """
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: confirmed}
spec:
  broker: default
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: notifications}
    uri: /events
"""


class HeldJournal(Journal):
    """A real journal whose writes wait (on the journal's thread) until `release` is set, as a
    slow fsync would, then fail if `broken`, as a full disk would."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.release = threading.Event()
        self.broken = False

    def add(self, entries: Iterable[Entry]) -> list[Entry]:
        if not self.release.wait(10):
            raise OSError("the test never released the journal")
        if self.broken:
            raise sqlite3.OperationalError("database or disk is full")
        return super().add(entries)


@pytest.fixture
def subscriber() -> Iterator[Recorder]:
    with Recorder() as recorder:
        yield recorder


def _dispatcher(tmp_path: Path, journal: Journal, subscriber: Recorder) -> Dispatcher:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "eventing.yaml").write_text(MANIFESTS)

    def resolve(destination: Destination) -> str:
        return subscriber.url + (destination.uri or "")

    return Dispatcher(
        load(tmp_path / "manifests"),
        resolve,
        Poster(timeout=5),
        CollectorRegistry(),
        journal=journal,
        parking=Parking(journal),
    )


async def test_a_delivery_starts_while_its_journal_write_syncs_and_is_accepted_once_written(
    tmp_path: Path, subscriber: Recorder
) -> None:
    journal = HeldJournal(tmp_path / "journal.sqlite3")
    dispatcher = _dispatcher(tmp_path, journal, subscriber)
    event = new_event("shop.order.confirmed.v1", "/orders", {"order_id": "o1"})
    accepting = asyncio.ensure_future(dispatcher.accept("default", event, {}))

    await asyncio.to_thread(subscriber.wait_for, "/events")  # delivered, journal still held
    assert not accepting.done()
    journal.release.set()
    assert await accepting == 1
    for _ in range(200):  # the delivery ends by deleting its row, once the row is written
        if not journal.pending():
            break
        await asyncio.sleep(0.01)
    assert journal.pending() == []
    await dispatcher.close()
    dispatcher.client.close()
    journal.close()


async def test_an_event_whose_journal_write_fails_is_refused_and_its_delivery_ends_quietly(
    tmp_path: Path, subscriber: Recorder
) -> None:
    journal = HeldJournal(tmp_path / "journal.sqlite3")
    journal.broken = True
    journal.release.set()
    dispatcher = _dispatcher(tmp_path, journal, subscriber)
    event = new_event("shop.order.confirmed.v1", "/orders", {"order_id": "o1"})
    with pytest.raises(sqlite3.OperationalError):  # the ingress answers 5xx: the sender retries
        await dispatcher.accept("default", event, {})
    tasks = set(dispatcher._tasks)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert tasks
    assert results == [None] * len(tasks)
    assert journal.pending() == journal.parked() == []
    dispatcher.client.close()
    journal.close()
