from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devtools.broker.manifests import Delivery, ManifestError, duration, load, parse

ROOT = Path(__file__).resolve().parents[4]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT0.2S", 0.2), ("PT1M30S", 90.0), ("PT2H", 7200.0), ("P1D", 86400.0), ("PT10S", 10.0)],
)
def test_iso_durations_parse_to_seconds(text: str, seconds: float) -> None:
    assert duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["0.2s", "PT", "P", "PTS", "10", "PT-1S"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ManifestError):
        duration(text)


def test_backoff_follows_knatives_formulas() -> None:
    exponential = Delivery(retry=3, backoff_policy="exponential", backoff_delay=0.2)
    linear = Delivery(retry=3, backoff_policy="linear", backoff_delay=0.2)
    assert [exponential.wait_before(n) for n in range(3)] == pytest.approx([0.2, 0.4, 0.8])
    assert [linear.wait_before(n) for n in range(3)] == pytest.approx([0.0, 0.2, 0.4])


def _trigger(filters: dict[str, str], delivery: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "broker": "default",
        "filter": {"attributes": filters},
        "subscriber": {"ref": {"kind": "Service", "name": "notifications"}, "uri": "/events"},
    }
    if delivery is not None:
        spec["delivery"] = delivery
    return {"kind": "Trigger", "metadata": {"name": "t"}, "spec": spec}


BROKER = {"kind": "Broker", "metadata": {"name": "default"}, "spec": {"delivery": {"retry": 2}}}


def test_filters_match_exactly_and_empty_means_present() -> None:
    found = parse([("x", BROKER), ("x", _trigger({"type": "a.b", "subject": ""}))])
    trigger = found.triggers[0]
    assert trigger.matches({"type": "a.b", "subject": "s"})
    assert not trigger.matches({"type": "a.b"})
    assert not trigger.matches({"type": "A.B", "subject": "s"})


def test_a_trigger_delivery_replaces_the_brokers_as_a_whole() -> None:
    own = parse([("x", BROKER), ("x", _trigger({}, {"retry": 7}))])
    inherited = parse([("x", BROKER), ("x", _trigger({}))])
    assert own.delivery_for(own.triggers[0]).retry == 7
    assert own.delivery_for(own.triggers[0]).dead_letter is None
    assert inherited.delivery_for(inherited.triggers[0]).retry == 2


@pytest.mark.parametrize(
    "bad",
    [
        _trigger({"Type": "x"}),
        _trigger({}, {"retries": 3}),
        _trigger({}, {"backoffPolicy": "expo"}),
        _trigger({}, {"backoffDelay": "200ms"}),
        {**_trigger({}), "spec": {**_trigger({})["spec"], "broker": "nope"}},
    ],
)
def test_manifests_the_broker_cannot_follow_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ManifestError):
        parse([("x", BROKER), ("x", bad)])


def test_the_shipped_manifests_load() -> None:
    found = load(ROOT / "knative" / "eventing")
    assert "default" in found.brokers
    broker_delivery = found.brokers["default"]
    assert broker_delivery is not None
    assert broker_delivery.dead_letter is not None
    assert broker_delivery.dead_letter.uri == "/dead-letters"
    assert {p.sink.name for p in found.pings} == {"users", "orders"}
