"""Every function reaches zero when idle: Knative's scale-to-zero rule (stable window, grace
period, pod retention, scale-down delay, min-scale) applied to our manifests' annotations and
to the schedules of the PingSources that call each function."""

from __future__ import annotations

import copy

import pytest

from tests.support.knative.autoscaler import seconds, verdicts
from tests.support.knative.manifests import Manifest

FUNCTIONS = ("users", "products", "orders", "notifications")


def test_every_idle_function_reaches_zero_between_its_pings(files: list[Manifest]) -> None:
    found = verdicts(files, FUNCTIONS)
    assert {name: v.reaches_zero for name, v in found.items()} == dict.fromkeys(FUNCTIONS, True)
    for verdict in found.values():  # the cost of zero: what the hourly sweep keeps a pod for
        assert verdict.idle_share_at_zero > 0.85


def test_the_rule_refuses_the_old_every_minute_ping(files: list[Manifest]) -> None:
    every_minute = [
        copy.deepcopy(m) if m.kind != "PingSource" else _with_schedule(m, "* * * * *")
        for m in files
    ]
    found = verdicts(every_minute, ("users", "orders"))
    assert [v.reaches_zero for v in found.values()] == [False, False]
    assert found["users"].shortest_gap == 60.0


def test_the_rule_honours_min_scale_and_a_long_retention(files: list[Manifest]) -> None:
    changed = [
        _annotated(m, "min-scale", "1")
        if m.name == "products" and m.kind == "Service"
        else _annotated(m, "scale-to-zero-pod-retention-period", "2h")
        if m.name == "users" and m.kind == "Service"
        else m
        for m in files
    ]
    found = verdicts(changed, ("products", "users", "notifications"))
    assert found["products"].time_to_zero is None
    assert not found["users"].reaches_zero  # kept two hours, pinged every hour
    assert found["notifications"].reaches_zero


@pytest.mark.parametrize(("text", "expected"), [("60s", 60), ("1m30s", 90), ("1h", 3600)])
def test_go_durations_are_read_as_knative_writes_them(text: str, expected: float) -> None:
    assert seconds(text) == expected


def _with_schedule(manifest: Manifest, schedule: str) -> Manifest:
    body = copy.deepcopy(manifest.body)
    body["spec"]["schedule"] = schedule
    return Manifest(body, manifest.origin)


def _annotated(manifest: Manifest, key: str, value: str) -> Manifest:
    body = copy.deepcopy(manifest.body)
    notes = body["spec"]["template"].setdefault("metadata", {}).setdefault("annotations", {})
    notes[f"autoscaling.knative.dev/{key}"] = value
    return Manifest(body, manifest.origin)
