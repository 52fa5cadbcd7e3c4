"""CloudEvents 1.0 over HTTP, binary and structured mode, with JSON data.

Our event is a frozen msgspec Struct; the official `cloudevents` SDK parses and produces the
HTTP messages (`shop.events.binding`), imported at the first event rather than at start-up.
A batch (`application/cloudevents-batch+json`) is refused with `UnsupportedMode` (415): Knative
never delivers batches, and a Broker ingress does not accept them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
JSON = "application/json"
CONTEXT = frozenset(
    {"id", "source", "type", "specversion", "subject", "time", "datacontenttype", "dataschema"}
)


class InvalidEvent(ValueError):
    """The request is not a valid CloudEvent: never retry it."""

    status = 400


class UnsupportedMode(InvalidEvent):
    """A content mode we do not take (a batch, or a structured format other than JSON)."""

    status = 415


class CloudEvent(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    source: str
    type: str
    specversion: str = "1.0"
    subject: str | None = None
    time: str | None = None
    datacontenttype: str | None = JSON
    dataschema: str | None = None
    data: Any = None
    extensions: dict[str, str] = msgspec.field(default_factory=dict)

    def attributes(self) -> dict[str, str]:
        """Every context attribute and extension that is set, as strings (what filters see)."""
        found = {name: getattr(self, name) for name in CONTEXT if getattr(self, name) is not None}
        return {**self.extensions, **found}

    def with_extensions(self, **extensions: str) -> CloudEvent:
        return msgspec.structs.replace(self, extensions={**self.extensions, **extensions})

    def without_extensions(self, *names: str) -> CloudEvent:
        kept = {k: v for k, v in self.extensions.items() if k not in names}
        return msgspec.structs.replace(self, extensions=kept)


def new_event(event_type: str, source: str, data: Any, *, subject: str | None = None) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=source,
        type=event_type,
        subject=subject,
        time=now(),
        data=data,
    )


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == JSON or media.endswith("+json") or media == "text/json"


def to_binary(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """Headers and body in binary mode: attributes as `ce-*` headers, data as the body."""
    from shop.events import binding

    return binding.binary(event)


def to_structured(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """Headers and body in structured mode: the whole event as one JSON document."""
    from shop.events import binding

    return binding.structured(event)


def from_http(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    """Decode either mode, told apart by the Content-Type. Raises `InvalidEvent`."""
    lowered = {k.lower(): v for k, v in headers.items()}
    media = lowered.get("content-type", "").split(";", 1)[0].strip().lower()
    if media.startswith("application/cloudevents"):
        if media != STRUCTURED:
            raise UnsupportedMode(f"{media} is not taken here: send one event, binary or JSON")
        from shop.events import binding

        return binding.parse_structured(lowered, body)
    if any(name.startswith("ce-") for name in lowered):
        from shop.events import binding

        return binding.parse_binary(lowered, body)
    raise InvalidEvent("not a CloudEvent: neither structured content type nor ce-* headers")


def apply_overrides(event: CloudEvent, overrides: Mapping[str, Any]) -> CloudEvent:
    """Apply `K_CE_OVERRIDES` (`{"extensions": {...}}`) as a SinkBinding asks."""
    extensions = overrides.get("extensions") or {}
    return event.with_extensions(**{str(k): str(v) for k, v in extensions.items()})


def parse_overrides(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise ValueError("K_CE_OVERRIDES must be JSON like {'extensions': {...}}") from None
    if not isinstance(value, dict):
        raise ValueError("K_CE_OVERRIDES must be a JSON object")
    return value
