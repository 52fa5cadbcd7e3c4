"""Reads the Broker, Trigger and PingSource manifests that deploy to the cluster.

The local broker routes from the same files as Knative does, so one source of truth decides
where events go. Only what the broker needs is read; a field it cannot honour is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_FILTER_KEY = re.compile(r"^[a-z][a-z0-9]*$")


class ManifestError(ValueError):
    """A manifest the broker cannot follow."""


def duration(text: str) -> float:
    """An ISO-8601 duration such as `PT0.2S` or `PT1M30S`, in seconds."""
    match = _DURATION.match(text)
    if not match or text in {"P", "PT"} or text.endswith("T"):
        raise ManifestError(f"not an ISO-8601 duration: {text!r}")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return (
        parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60
    ) + parts.get("s", 0)


@dataclass(frozen=True)
class Destination:
    """A Knative Destination: a `ref` to an addressable and/or a `uri` (relative to the ref)."""

    kind: str | None = None
    name: str | None = None
    uri: str | None = None
    audience: str | None = None  # the OIDC audience a sender's token must name

    @classmethod
    def parse(cls, spec: Mapping[str, Any], where: str) -> Destination:
        ref = spec.get("ref") or {}
        uri = spec.get("uri")
        if not ref and not uri:
            raise ManifestError(f"{where}: a destination needs a ref or a uri")
        if ref and not (ref.get("kind") and ref.get("name")):
            raise ManifestError(f"{where}: ref needs kind and name")
        audience = spec.get("audience")
        return cls(kind=ref.get("kind"), name=ref.get("name"), uri=uri, audience=audience)

    def describe(self) -> str:
        return f"{self.kind}/{self.name}{self.uri or ''}" if self.name else str(self.uri)


@dataclass(frozen=True)
class Delivery:
    retry: int = 0
    backoff_policy: str = "exponential"
    backoff_delay: float = 0.0
    timeout: float | None = None
    dead_letter: Destination | None = None
    structured: bool = False
    retry_after_max: float | None = None  # None: Retry-After is ignored (Eventing's alpha rule)

    @classmethod
    def parse(cls, spec: Mapping[str, Any] | None, where: str) -> Delivery | None:
        if not spec:
            return None
        unknown = set(spec) - {
            "retry",
            "backoffPolicy",
            "backoffDelay",
            "timeout",
            "deadLetterSink",
            "format",
            "retryAfterMax",
        }
        if unknown:
            raise ManifestError(f"{where}: unknown delivery field(s) {sorted(unknown)}")
        policy = spec.get("backoffPolicy", "exponential")
        if policy not in {"linear", "exponential"}:
            raise ManifestError(f"{where}: backoffPolicy must be linear or exponential")
        retry = spec.get("retry", 0)
        if not isinstance(retry, int) or retry < 0:
            raise ManifestError(f"{where}: retry must be an integer >= 0")
        sink = spec.get("deadLetterSink")
        return cls(
            retry=retry,
            backoff_policy=policy,
            backoff_delay=duration(spec["backoffDelay"]) if "backoffDelay" in spec else 0.0,
            timeout=duration(spec["timeout"]) if "timeout" in spec else None,
            dead_letter=Destination.parse(sink, f"{where}.deadLetterSink") if sink else None,
            structured=spec.get("format") == "json",
            retry_after_max=duration(spec["retryAfterMax"]) if "retryAfterMax" in spec else None,
        )

    def wait_before(self, retry: int, retry_after: float = 0.0) -> float:
        """Knative's wait before retry number `retry` (0-based): linear d*n, exponential d*2^n.

        `retry_after` is what a 429 or 503 asked for; as in Eventing's dispatcher
        (pkg/kncloudevents/retries.go) it counts only when `retryAfterMax` is set, capped by it,
        and the longer of it and the backoff wins.
        """
        if self.backoff_policy == "linear":
            backoff = self.backoff_delay * retry
        else:
            backoff = self.backoff_delay * float(2**retry)
        if self.retry_after_max is None:
            return backoff
        return max(backoff, min(retry_after, self.retry_after_max))


@dataclass(frozen=True)
class Trigger:
    name: str
    broker: str
    attributes: dict[str, str]
    subscriber: Destination
    delivery: Delivery | None = None

    def matches(self, attributes: Mapping[str, str]) -> bool:
        """Exact match on every key; an empty value means "present and non-empty"."""
        for key, wanted in self.attributes.items():
            value = attributes.get(key)
            if not value or (wanted and value != wanted):
                return False
        return True


@dataclass(frozen=True)
class PingSource:
    name: str
    schedule: str
    data: bytes
    content_type: str
    sink: Destination


@dataclass
class Manifests:
    brokers: dict[str, Delivery | None] = field(default_factory=dict)
    triggers: list[Trigger] = field(default_factory=list)
    pings: list[PingSource] = field(default_factory=list)

    def delivery_for(self, trigger: Trigger) -> Delivery:
        return trigger.delivery or self.brokers.get(trigger.broker) or Delivery()


def load(directory: Path) -> Manifests:
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    documents: list[tuple[str, dict[str, Any]]] = []
    for path in files:
        with path.open() as handle:
            documents += [(path.name, doc) for doc in yaml.safe_load_all(handle) if doc]
    return parse(documents)


def parse(documents: Iterable[tuple[str, dict[str, Any]]]) -> Manifests:
    found = Manifests()
    for origin, doc in documents:
        kind, name = doc.get("kind"), (doc.get("metadata") or {}).get("name", "?")
        spec = doc.get("spec") or {}
        where = f"{origin}: {kind} {name}"
        if kind == "Broker":
            found.brokers[name] = Delivery.parse(spec.get("delivery"), where)
        elif kind == "Trigger":
            found.triggers.append(_trigger(name, spec, where))
        elif kind == "PingSource":
            found.pings.append(_ping(name, spec, where))
    for trigger in found.triggers:
        if trigger.broker not in found.brokers:
            raise ManifestError(f"Trigger {trigger.name}: no Broker named {trigger.broker!r}")
    return found


def _trigger(name: str, spec: Mapping[str, Any], where: str) -> Trigger:
    attributes = (spec.get("filter") or {}).get("attributes") or {}
    for key in attributes:
        if not _FILTER_KEY.match(str(key)):
            raise ManifestError(f"{where}: filter key {key!r} must match ^[a-z][a-z0-9]*$")
    if spec.get("filters"):
        raise ManifestError(f"{where}: the local broker supports filter.attributes only")
    if "subscriber" not in spec or "broker" not in spec:
        raise ManifestError(f"{where}: a Trigger needs broker and subscriber")
    return Trigger(
        name=name,
        broker=spec["broker"],
        attributes={str(k): str(v) for k, v in attributes.items()},
        subscriber=Destination.parse(spec["subscriber"], f"{where}.subscriber"),
        delivery=Delivery.parse(spec.get("delivery"), where),
    )


def _ping(name: str, spec: Mapping[str, Any], where: str) -> PingSource:
    if "data" in spec and "dataBase64" in spec:
        raise ManifestError(f"{where}: data and dataBase64 are exclusive")
    if "dataBase64" in spec:
        import base64

        data = base64.b64decode(spec["dataBase64"])
    else:
        data = str(spec.get("data", "")).encode()
    return PingSource(
        name=name,
        schedule=str(spec.get("schedule", "* * * * *")),
        data=data,
        content_type=str(spec.get("contentType", "text/plain")),
        sink=Destination.parse(spec.get("sink") or {}, f"{where}.sink"),
    )
