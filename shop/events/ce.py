"""CloudEvents 1.0 over HTTP, binary and structured mode, with JSON data.

A small msgspec codec rather than the `cloudevents` SDK: the SDK's HTTP binding costs about
100 ms of import time (pydantic-free, but with dateutil and deprecation), which every function
would pay at cold start, and it adds nothing we need beyond these few rules of the binding.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import msgspec

STRUCTURED = "application/cloudevents+json"
JSON = "application/json"
REQUIRED = ("id", "source", "type", "specversion")
_CONTEXT = frozenset(
    {"id", "source", "type", "specversion", "subject", "time", "datacontenttype", "dataschema"}
)
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_EXTENSION = re.compile(r"^[a-z0-9]{1,64}$")
# Header values are percent-encoded for space, '"', '%' and anything outside printable ASCII.
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"%')


class InvalidEvent(ValueError):
    """The request is not a valid CloudEvent: never retry it."""


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
        found = {name: getattr(self, name) for name in _CONTEXT if getattr(self, name) is not None}
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
    headers = {}
    for name, value in event.attributes().items():
        if name == "datacontenttype":
            headers["content-type"] = value
        else:
            headers[f"ce-{name}"] = quote(value, safe=_SAFE)
    return headers, _data_bytes(event)


def to_structured(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """Headers and body in structured mode: the whole event as one JSON document."""
    body: dict[str, Any] = dict(event.attributes())
    if event.data is not None:
        if isinstance(event.data, bytes):
            body["data_base64"] = base64.b64encode(event.data).decode()
        else:
            body["data"] = event.data
    return {"content-type": f"{STRUCTURED}; charset=utf-8"}, msgspec.json.encode(body)


def from_http(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    """Decode either mode, told apart by the Content-Type. Raises `InvalidEvent`."""
    lowered = {k.lower(): v for k, v in headers.items()}
    content_type = lowered.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() == STRUCTURED:
        return _structured(body)
    if "ce-id" in lowered or "ce-specversion" in lowered:
        return _binary(lowered, body)
    raise InvalidEvent("not a CloudEvent: neither structured content type nor ce-* headers")


def _binary(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    attributes = {
        name[3:]: unquote(value) for name, value in headers.items() if name.startswith("ce-")
    }
    if "content-type" in headers:
        attributes["datacontenttype"] = headers["content-type"]
    else:
        attributes.setdefault("datacontenttype", JSON)
    data: Any = None
    if body:
        data = _decode_data(body, attributes["datacontenttype"])
    return _build(attributes, data)


def _structured(body: bytes) -> CloudEvent:
    try:
        document = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise InvalidEvent(f"structured event is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidEvent("structured event must be a JSON object")
    data = document.pop("data", None)
    encoded = document.pop("data_base64", None)
    if encoded is not None:
        if data is not None:
            raise InvalidEvent("an event has either data or data_base64, not both")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (ValueError, TypeError):
            raise InvalidEvent("data_base64 is not base64") from None
    attributes: dict[str, str] = {}
    for name, value in document.items():
        if value is None:  # JSON null: the attribute is absent (JSON event format 3.1)
            continue
        if isinstance(value, bool):  # a Boolean extension, in its canonical string form
            attributes[name] = "true" if value else "false"
        elif isinstance(value, str | int):
            attributes[name] = str(value)
        else:
            raise InvalidEvent(f"attribute {name!r} must be a string, integer or boolean")
    return _build(attributes, data)


def _decode_data(body: bytes, content_type: str) -> Any:
    if not is_json(content_type):
        return body
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise InvalidEvent("data is not valid JSON although the content type says so") from None


def _build(attributes: dict[str, str], data: Any) -> CloudEvent:
    missing = [name for name in REQUIRED if not attributes.get(name)]
    if missing:
        raise InvalidEvent(f"missing required attribute(s): {', '.join(missing)}")
    if attributes["specversion"] != "1.0":
        raise InvalidEvent(f"unsupported specversion {attributes['specversion']!r}")
    if "time" in attributes and not _is_timestamp(attributes["time"]):
        raise InvalidEvent(f"time {attributes['time']!r} is not an RFC 3339 timestamp")
    extensions = {k: v for k, v in attributes.items() if k not in _CONTEXT}
    bad = [name for name in extensions if not _EXTENSION.match(name)]
    if bad:
        raise InvalidEvent(f"invalid extension name(s): {', '.join(sorted(bad))}")
    context = {k: v for k, v in attributes.items() if k in _CONTEXT}
    return CloudEvent(**context, data=data, extensions=extensions)


def _is_timestamp(text: str) -> bool:
    if not _RFC3339.match(text):
        return False
    try:
        datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _data_bytes(event: CloudEvent) -> bytes:
    if event.data is None:
        return b""
    if isinstance(event.data, bytes):
        return event.data
    return msgspec.json.encode(event.data)


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
