"""One source of truth for routing: every Trigger's event type has a producer and a subscriber.

A mistyped filter type would make the broker deliver nothing for it, in the cluster as locally;
this check fails instead. Producers are found by the event types their code declares; the
subscriber by the types it declares it handles.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from devtools.broker.manifests import Trigger, load
from functions.notifications.model import HANDLED_TYPES, SOURCES
from shop.events.ce import new_event

ROOT = Path(__file__).resolve().parents[4]
EVENTING = ROOT / "knative" / "eventing"
PRODUCERS = ("users", "orders")
SUBSCRIBERS = {"notifications": HANDLED_TYPES}
_TYPE = re.compile(r"""["'](shop\.[a-z0-9_.]+\.v[0-9]+)["']""")


def produced_types() -> dict[str, str]:
    """Event type -> the function whose code declares it."""
    found: dict[str, str] = {}
    for service in PRODUCERS:
        for path in (ROOT / "functions" / service).rglob("*.py"):
            for event_type in _TYPE.findall(path.read_text()):
                found[event_type] = service
    return found


def problems(directory: Path) -> list[str]:
    manifests = load(directory)
    produced = produced_types()
    found = []
    routed: set[str] = set()
    for trigger in manifests.triggers:
        event_type = trigger.attributes.get("type")
        if not event_type:
            found.append(f"{trigger.name}: filters on no type")
            continue
        routed.add(event_type)
        if event_type not in produced:
            found.append(f"{trigger.name}: nothing produces {event_type!r}")
        handled = SUBSCRIBERS.get(trigger.subscriber.name or "", frozenset())
        if event_type not in handled:
            found.append(
                f"{trigger.name}: {trigger.subscriber.name} does not handle {event_type!r}"
            )
        source = trigger.attributes.get("source")
        if source is not None and event_type in SOURCES and source != SOURCES[event_type]:
            found.append(f"{trigger.name}: {event_type} never comes from {source!r}")
    for event_type in sorted(set(produced) - routed):
        found.append(f"{event_type} (from {produced[event_type]}) has no Trigger")
    return found


def test_every_trigger_type_has_a_producer_and_a_subscriber() -> None:
    assert produced_types().keys() >= HANDLED_TYPES  # the scan sees the real producers
    assert problems(EVENTING) == []


@pytest.fixture
def typo(tmp_path: Path) -> Path:
    shutil.copytree(EVENTING, tmp_path / "eventing")
    triggers = tmp_path / "eventing" / "triggers.yaml"
    triggers.write_text(
        triggers.read_text().replace(
            "type: shop.order.confirmed.v1", "type: shop.order.confimed.v1"
        )
    )
    return tmp_path / "eventing"


def _matching(triggers: list[Trigger], event_type: str, source: str) -> list[str]:
    attributes = new_event(event_type, source, {}).attributes()
    return [t.name for t in triggers if t.matches(attributes)]


def test_a_mistyped_trigger_type_routes_nothing_and_fails_the_check(typo: Path) -> None:
    good = load(EVENTING).triggers
    bad = load(typo).triggers
    assert _matching(good, "shop.order.confirmed.v1", "/orders") == [
        "notifications-order-confirmed"
    ]
    assert _matching(bad, "shop.order.confirmed.v1", "/orders") == []
    assert problems(typo) == [
        "notifications-order-confirmed: nothing produces 'shop.order.confimed.v1'",
        "notifications-order-confirmed: notifications does not handle 'shop.order.confimed.v1'",
        "shop.order.confirmed.v1 (from orders) has no Trigger",
    ]
