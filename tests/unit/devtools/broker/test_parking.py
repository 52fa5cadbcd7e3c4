from __future__ import annotations

from pathlib import Path

from devtools.broker.parking import Parked, Parking
from shop.events.ce import new_event


async def test_parked_dead_letters_survive_a_restart_until_the_sink_takes_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "parked.jsonl"
    first, second = (new_event("t.v1", "/s", {"n": n}) for n in (1, 2))
    parking = Parking(path)
    parking.park(Parked("trigger", first, {"traceparent": "00-abc"}))
    parking.park(Parked("trigger", second, {}))

    restarted = Parking(path)
    assert [p.event for p in restarted.items] == [first, second]

    async def only_first(item: Parked) -> bool:
        return item.event.id == first.id

    assert await restarted.retry(only_first) == 1
    assert [p.event.id for p in Parking(path).items] == [second.id]
