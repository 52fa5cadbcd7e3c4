"""docs/events.md agrees with the code: the types, sources and data fields consumers rely on."""

from __future__ import annotations

import re
from pathlib import Path

from functions.notifications.model import SOURCES, Cancelled, Confirmed, Registered
from tests.unit.devtools.broker.test_triggers import produced_types

DOC = Path(__file__).resolve().parents[3] / "docs" / "events.md"
SHAPES = {
    "shop.user.registered.v1": Registered,
    "shop.order.confirmed.v1": Confirmed,
    "shop.order.cancelled.v1": Cancelled,
}


def documented() -> dict[str, tuple[str, str, list[str]]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`shop."):
            fields = re.findall(r"`([a-z_]+)`", cells[4])
            rows[cells[0].strip("`")] = (cells[1].strip("`"), cells[3], fields)
    return rows


def test_every_event_is_documented_with_its_source_producer_and_data_fields() -> None:
    rows = documented()
    assert set(rows) == set(SHAPES) == set(produced_types())
    for event_type, (source, producer, fields) in rows.items():
        assert source == SOURCES[event_type]
        assert producer == produced_types()[event_type]
        assert fields == list(SHAPES[event_type].__struct_fields__)
