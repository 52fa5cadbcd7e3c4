from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from devtools.broker.journal import Journal
from devtools.broker.parking import Parked, Parking
from shop.events.ce import new_event


async def test_parked_dead_letters_survive_a_restart_until_the_sink_takes_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite3"
    first, second = (new_event("t.v1", "/s", {"n": n}) for n in (1, 2))
    parking = Parking(Journal(path))
    parking.park(Parked("trigger", first, {"traceparent": "00-abc"}))
    parking.park(Parked("trigger", second, {}))
    parking.journal.close()

    restarted = Parking(Journal(path))
    assert [p.event for p in restarted.items] == [first, second]
    assert restarted.items[0].trace == {"traceparent": "00-abc"}

    async def only_first(item: Parked) -> bool:
        return item.event.id == first.id

    assert await restarted.retry(only_first) == 1
    assert [p.event.id for p in Parking(Journal(path)).items] == [second.id]


async def test_a_letter_parked_while_a_retry_pass_awaits_a_slow_offer_is_kept(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite3"
    parking = Parking(Journal(path))
    first, second = (new_event("t.v1", "/s", {"n": n}) for n in (1, 2))
    parking.park(Parked("trigger", first, {}))
    offered = asyncio.Event()
    release = asyncio.Event()

    async def slow_sink(item: Parked) -> bool:
        offered.set()
        await release.wait()
        return True

    retrying = asyncio.create_task(parking.retry(slow_sink))
    await offered.wait()
    parking.park(Parked("trigger", second, {}))
    release.set()

    assert await retrying == 1
    assert [p.event.id for p in parking.items] == [second.id]
    assert [p.event.id for p in Parking(Journal(path)).items] == [second.id]  # on disk too


async def test_letters_an_older_broker_parked_in_jsonl_move_into_the_journal(
    tmp_path: Path,
) -> None:
    import msgspec

    legacy = tmp_path / "broker-parked.jsonl"
    letter = Parked("trigger", new_event("t.v1", "/s", {}), {})
    legacy.write_bytes(msgspec.json.encode(letter) + b"\n")
    parking = Parking(Journal(tmp_path / "journal.sqlite3"))

    assert parking.adopt(legacy) == 1
    assert [p.event for p in parking.items] == [letter.event]
    assert not legacy.exists()


async def test_an_outage_of_the_sink_logs_its_changes_of_state_not_a_line_per_letter(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    parking = Parking(Journal(tmp_path / "journal.sqlite3"))

    async def sink(item: Parked) -> bool:
        return True

    def logged() -> list[str]:
        found = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        caplog.clear()
        return found

    with caplog.at_level(logging.DEBUG, logger="devtools.broker.parking"):
        for n in range(3):
            parking.park(Parked("trigger", new_event("t.v1", "/s", {"n": n}), {}))
        assert logged() == ["dead-letter sink unreachable: parking its letters"]
        assert await parking.retry(sink) == 3
        assert logged() == ["dead-letter sink back: every parked letter taken"]
        assert await parking.retry(sink) == 0
        assert logged() == []
        parking.park(Parked("trigger", new_event("t.v1", "/s", {}), {}))
        assert logged() == ["dead-letter sink unreachable: parking its letters"]
