"""Exactly once in effect, retries, dead letters and replay, across real processes.

The broker runs on the shipped manifests (knative/eventing): 5 retries, exponential from 0.2 s,
then the notifications function's dead-letter store.
"""

from __future__ import annotations

import json
import time

import pytest

from devtools.dlq import MARK_AT_ONCE
from shop.events.ce import new_event
from tests.e2e.eventing.conftest import TIME_SCALE, Flow
from tests.support.events import confirmed

pytestmark = pytest.mark.e2e


def test_a_duplicate_delivery_makes_one_notification_and_one_email(flow: Flow) -> None:
    event = confirmed(user_id="u1")
    flow.publish(event)
    flow.publish(event)  # the same event again, as a broker may redeliver it
    (note,) = flow.wait_inbox("u1")
    assert note["event_id"] == event.id
    flow.smtp.wait_for(1)
    time.sleep(0.5)
    assert len(flow.smtp.messages) == 1
    assert len(flow.inbox("u1")) == 1
    assert flow.events_answered("2xx") == 2


def test_failures_are_retried_with_backoff_then_dead_lettered_and_replay_delivers_once(
    flow: Flow,
) -> None:
    flow.smtp.stop()  # notifications now answers 503: retry later
    event = confirmed(user_id="u2")
    started = time.monotonic()
    flow.publish(event)
    (letter,) = flow.wait_dead_letters()
    waited = time.monotonic() - started
    assert flow.events_answered("5xx") == 12  # the first attempt and 11 retries
    # exponential from 1 s: 2047 s (each 503's Retry-After may only lengthen a wait)
    assert waited >= sum(2.0**n for n in range(11)) * TIME_SCALE
    assert (letter["event_id"], letter["error_code"]) == (event.id, "503")
    assert len(flow.inbox("u2")) == 1  # the inbox got it on the first attempt
    assert flow.smtp.messages == []

    listed = flow.dlq("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["id"] == letter["id"]

    flow.smtp.start()
    replayed = flow.dlq("replay", letter["id"])
    assert replayed.returncode == 0, replayed.stderr
    flow.smtp.wait_for(1)
    time.sleep(0.5)
    assert len(flow.smtp.messages) == 1
    assert len(flow.inbox("u2")) == 1  # no duplicate notification
    assert flow.dead_letters() == []
    again = flow.dlq("replay")
    assert "replayed 0 of 0" in again.stdout


def test_notifications_down_then_back_within_the_retries_gets_the_event(flow: Flow) -> None:
    flow.notifications.stop()
    event = confirmed(user_id="u3")
    flow.publish(event)
    time.sleep(0.3)  # the first attempts fail to connect
    # Start again at once: the retries span 2047 s x TIME_SCALE, which a busy machine needs.
    flow.restart_notifications()
    (note,) = flow.wait_inbox("u3")
    assert note["event_id"] == event.id
    assert flow.dead_letters() == []


def test_a_consumer_400_goes_straight_to_dead_letters_without_retry(flow: Flow) -> None:
    unusable = new_event("shop.order.confirmed.v1", "/orders", {"order_id": "o9"})
    flow.publish(unusable)
    (letter,) = flow.wait_dead_letters(timeout=10)
    assert (letter["event_id"], letter["error_code"], letter["times"]) == (unusable.id, "400", 1)
    assert flow.events_answered("4xx") == 1
    time.sleep(0.5)
    assert flow.events_answered("4xx") == 1  # and it is not retried later


def test_a_replay_of_more_letters_than_one_request_may_mark_replays_and_marks_them_all(
    flow: Flow,
) -> None:
    count = MARK_AT_ONCE + 1  # the store takes at most MARK_AT_ONCE ids per request
    for n in range(count):
        flow.publish(new_event("shop.order.confirmed.v1", "/orders", {"order_id": f"o{n}"}))
    deadline = time.monotonic() + 60.0
    while len(pending := _pending(flow)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(pending) == count
    flow.notifications.stop()  # what is replayed stays in the broker: no letter comes back
    replayed = flow.dlq("replay")
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed {count} of {count}" in replayed.stdout
    assert _pending(flow) == []


def _pending(flow: Flow) -> list[str]:
    listed = flow.dlq("list", "--json")
    assert listed.returncode == 0, listed.stderr
    return [json.loads(line)["id"] for line in listed.stdout.splitlines() if line.strip()]
