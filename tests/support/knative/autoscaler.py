"""Knative's scale-to-zero rule, applied to our manifests: does an otherwise idle function reach
zero between the requests its PingSources send it?

The rule as knative/serving states it (read at 98e5ef9, knative-v1.23.0):
- pkg/autoscaler/scaling/autoscaler.go: the KPA wants 0 pods only when the concurrency averaged
  over the stable window (`window` annotation, else `stable-window`) is 0, i.e. no request was
  in flight during the whole window; `scale-down-delay` holds any higher count for that long.
- pkg/reconciler/autoscaling/kpa/scaler.go `handleScaleToZero`: with `enable-scale-to-zero`,
  an active PodAutoscaler that wants 0 becomes inactive after being active a stable window; the
  last pod goes once it has been inactive max(`scale-to-zero-grace-period`,
  `scale-to-zero-pod-retention-period`), the annotation overriding the cluster's retention.
- `min-scale` > 0 never reaches zero, and only the KPA class scales to zero.
Cluster defaults: config/core/configmaps/autoscaler.yaml; a ConfigMap `config-autoscaler` in
our manifests would override them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from devtools.broker.cron import Schedule
from tests.support.knative.manifests import Manifest

KPA = "kpa.autoscaling.knative.dev"
PREFIX = "autoscaling.knative.dev/"
DEFAULTS = {
    "enable-scale-to-zero": "true",
    "stable-window": "60s",
    "scale-to-zero-grace-period": "30s",
    "scale-to-zero-pod-retention-period": "0s",
    "scale-down-delay": "0s",
}
DEFAULT_TIMEOUT_SECONDS = 300  # config/core/configmaps/defaults.yaml revision-timeout-seconds
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def seconds(text: str) -> float:
    """A Go duration (`60s`, `1m30s`, `1h`) in seconds."""
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"not a Go duration: {text!r}")
    return sum(float(number) * _UNIT[unit] for number, unit in parts)


@dataclass(frozen=True)
class Verdict:
    service: str
    time_to_zero: float | None  # None: never reaches zero however idle
    shortest_gap: float | None  # between two pings; None: nothing pings it

    @property
    def reaches_zero(self) -> bool:
        if self.time_to_zero is None:
            return False
        return self.shortest_gap is None or self.shortest_gap > self.time_to_zero

    @property
    def idle_share_at_zero(self) -> float:
        """Of an otherwise idle stretch, the share of time with no pod."""
        if not self.reaches_zero or self.time_to_zero is None:
            return 0.0
        if self.shortest_gap is None:
            return 1.0
        return 1.0 - self.time_to_zero / self.shortest_gap


def cluster_config(manifests: Iterable[Manifest]) -> dict[str, str]:
    config = dict(DEFAULTS)
    for manifest in manifests:
        if manifest.kind == "ConfigMap" and manifest.name == "config-autoscaler":
            config.update({k: str(v) for k, v in (manifest.body.get("data") or {}).items()})
    return config


def time_to_zero(service: Manifest, config: dict[str, str]) -> float | None:
    """Seconds from the start of the last request until the last pod is gone, or None."""
    template = service.body["spec"]["template"]
    notes = (template.get("metadata") or {}).get("annotations") or {}

    def note(key: str, default: str) -> str:
        return str(notes.get(PREFIX + key, default))

    if config["enable-scale-to-zero"] != "true" or note("class", KPA) != KPA:
        return None
    if int(note("min-scale", note("minScale", "0"))) > 0:
        return None
    request = float(template["spec"].get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS))
    window = seconds(note("window", config["stable-window"]))
    delay = seconds(note("scale-down-delay", config["scale-down-delay"]))
    retention = seconds(
        note("scale-to-zero-pod-retention-period", config["scale-to-zero-pod-retention-period"])
    )
    return request + window + delay + max(seconds(config["scale-to-zero-grace-period"]), retention)


def shortest_gap(schedules: list[str], *, horizon: timedelta = timedelta(days=2)) -> float | None:
    """The shortest time between two pings of all `schedules` together, over `horizon`."""
    if not schedules:
        return None
    start = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
    moments: set[datetime] = set()
    for text in schedules:
        schedule, moment = Schedule.parse(text), start
        while moment < start + horizon and len(moments) < 20_000:
            moment = schedule.next_after(moment)
            moments.add(moment)
    ordered = sorted(moments)
    return min((b - a).total_seconds() for a, b in itertools.pairwise(ordered))


def verdicts(manifests: list[Manifest], services: Iterable[str]) -> dict[str, Verdict]:
    config = cluster_config(manifests)
    found = {}
    for name in services:
        service = next(
            m
            for m in manifests
            if m.kind == "Service" and m.group == "serving.knative.dev" and m.name == name
        )
        pings = [
            str(m.body["spec"].get("schedule", "* * * * *"))
            for m in manifests
            if m.kind == "PingSource"
            and ((m.body["spec"].get("sink") or {}).get("ref") or {}).get("name") == name
        ]
        found[name] = Verdict(name, time_to_zero(service, config), shortest_gap(pings))
    return found
