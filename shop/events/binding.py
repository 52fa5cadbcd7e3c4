"""The CloudEvents HTTP binding through the official SDK (`cloudevents.core`), msgspec for data.

`shop.events.ce` imports this module at the first parse or produce, never at start-up: the SDK
costs about 60 ms of import CPU that a cold start's `/ready` should not wait for. The SDK maps
attributes to and from headers and validates the context; our `Format` (the SDK's plug-in point
for an event format) reads and writes JSON with msgspec. Where the SDK is laxer than the
specification we are strict: a JSON `null` attribute is absent (JSON format 3.1), `time` must be
RFC 3339 (the SDK takes any ISO 8601), and parsing never invents an `id` or a `time` (the SDK's
constructor fills them, as a producer wants).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import msgspec
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import http
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkEvent

from shop.events.ce import CONTEXT, CloudEvent, InvalidEvent, is_json

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class _Stamp(datetime):
    """A `time` that writes back the exact RFC 3339 text it was read from."""

    text: str

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return self.text


def _stamp(text: object) -> _Stamp:
    if not isinstance(text, str) or not _RFC3339.match(text):
        raise InvalidEvent(f"time {text!r} is not an RFC 3339 timestamp")
    try:
        stamp = _Stamp.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidEvent(f"time {text!r} is not an RFC 3339 timestamp") from None
    stamp.text = text
    return stamp


class _Event(SdkEvent):
    """The SDK's v1.0 event, validated as the SDK does, with nothing filled in."""

    def __init__(self, attributes: dict[str, Any], data: Any = None) -> None:
        self._validate_attribute(attributes=attributes)
        self._attributes = attributes
        self._data = data


class _Format(JSONFormat):
    """The SDK's JSON event format, with msgspec doing the JSON."""

    def read(self, event_factory: Any, data: str | bytes) -> BaseCloudEvent:
        try:
            document = msgspec.json.decode(data)
        except msgspec.DecodeError as exc:
            raise InvalidEvent(f"structured event is not JSON: {exc}") from None
        if not isinstance(document, dict):
            raise InvalidEvent("structured event must be a JSON object")
        attributes = {k: v for k, v in document.items() if v is not None}
        payload = attributes.pop("data", None)
        encoded = attributes.pop("data_base64", None)
        if encoded is not None:
            if payload is not None:
                raise InvalidEvent("an event has either data or data_base64, not both")
            try:
                payload = base64.b64decode(encoded, validate=True)
            except (ValueError, TypeError):
                raise InvalidEvent("data_base64 is not base64") from None
        if "time" in attributes:
            attributes["time"] = _stamp(attributes["time"])
        return _Event(attributes, payload)

    def write(self, event: BaseCloudEvent) -> bytes:
        body: dict[str, Any] = {
            k: v.isoformat() if isinstance(v, datetime) else v
            for k, v in event.get_attributes().items()
            if v is not None
        }
        data = event.get_data()
        if isinstance(data, bytes):
            body["data_base64"] = base64.b64encode(data).decode()
        elif data is not None:
            body["data"] = data
        return msgspec.json.encode(body)

    def read_data(self, body: bytes, datacontenttype: str | None) -> Any:
        if not body:
            return None
        if not is_json(datacontenttype):
            return body
        try:
            return msgspec.json.decode(body)
        except msgspec.DecodeError:
            raise InvalidEvent("data is not valid JSON although the content type says so") from None

    def write_data(self, data: Any, datacontenttype: str | None) -> bytes:
        if data is None:
            return b""
        if isinstance(data, bytes):
            return data
        return msgspec.json.encode(data)


FORMAT = _Format()


@contextmanager
def _refusals() -> Iterator[None]:
    """Whatever the SDK raises about a message becomes `InvalidEvent` (400, never retried)."""
    try:
        yield
    except InvalidEvent:
        raise
    except (BaseCloudEventException, ValueError, TypeError, KeyError) as exc:
        raise InvalidEvent(f"invalid CloudEvent: {exc}") from None


def parse_structured(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    with _refusals():
        return _ours(http.from_structured(http.HTTPMessage(dict(headers), body), FORMAT, _Event))


def parse_binary(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    time = unquote(headers["ce-time"]) if "ce-time" in headers else None
    if time is not None:
        _stamp(time)  # stricter than the SDK's ISO 8601 parser, and kept as it was written
    with _refusals():
        return _ours(http.from_binary(http.HTTPMessage(dict(headers), body), FORMAT, _Event), time)


def binary(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    with _refusals():
        message = http.to_binary(_sdk(event), FORMAT)
    return message.headers, message.body


def structured(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    with _refusals():
        message = http.to_structured(_sdk(event), FORMAT)
    return message.headers, message.body


def _sdk(event: CloudEvent) -> SdkEvent:
    attributes: dict[str, Any] = event.attributes()
    if event.time is not None:
        attributes["time"] = _stamp(event.time)
    return _Event(attributes, event.data)


def _ours(event: BaseCloudEvent, time: str | None = None) -> CloudEvent:
    context: dict[str, Any] = {}
    extensions: dict[str, str] = {}
    for name, value in event.get_attributes().items():
        if name == "time":
            context[name] = time or value.isoformat()
        elif name in CONTEXT:
            context[name] = value
        elif isinstance(value, bool):  # a Boolean extension, in its canonical string form
            extensions[name] = "true" if value else "false"
        elif isinstance(value, str | int):
            extensions[name] = str(value)
        else:
            raise InvalidEvent(f"attribute {name!r} must be a string, integer or boolean")
    return CloudEvent(**context, data=event.get_data(), extensions=extensions)
