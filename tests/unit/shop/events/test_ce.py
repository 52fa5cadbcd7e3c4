from __future__ import annotations

import msgspec
import pytest

from shop.events.ce import (
    CloudEvent,
    InvalidEvent,
    UnsupportedMode,
    apply_overrides,
    from_http,
    new_event,
    parse_overrides,
    to_binary,
    to_structured,
)


def _event(**changes: object) -> CloudEvent:
    base = new_event(
        "shop.order.confirmed.v1", "/orders", {"order_id": "o1", "total": 5}, subject="o1"
    )
    return msgspec.structs.replace(base, **changes)


def test_binary_mode_round_trips_attributes_extensions_and_data() -> None:
    event = _event().with_extensions(traceid="abc", knativeerrorcode="500")
    headers, body = to_binary(event)
    assert headers["ce-id"] == event.id
    assert headers["content-type"] == "application/json"
    assert from_http(headers, body) == event


def test_structured_mode_round_trips() -> None:
    event = _event()
    headers, body = to_structured(event)
    assert headers["content-type"].startswith("application/cloudevents+json")
    assert from_http(headers, body) == event


def test_binary_header_values_are_percent_encoded_and_decoded() -> None:
    event = _event(subject='a "quoted" name with % and ü')
    headers, body = to_binary(event)
    assert " " not in headers["ce-subject"]
    assert from_http(headers, body).subject == event.subject


def test_non_json_data_travels_as_bytes_in_both_modes() -> None:
    event = _event(datacontenttype="application/octet-stream", data=b"\x00\x01raw")
    for encode in (to_binary, to_structured):
        headers, body = encode(event)
        assert from_http(headers, body).data == b"\x00\x01raw"


def test_header_names_are_case_insensitive() -> None:
    headers, body = to_binary(_event())
    shouted = {k.upper(): v for k, v in headers.items()}
    assert from_http(shouted, body).type == "shop.order.confirmed.v1"


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({"content-type": "application/json"}, b"{}", "not a CloudEvent"),
        ({"ce-id": "1", "ce-source": "/x", "ce-specversion": "1.0"}, b"", "type"),
        (
            {"ce-id": "1", "ce-source": "/x", "ce-type": "t", "ce-specversion": "0.3"},
            b"",
            "specversion",
        ),
        (
            {"ce-id": "1", "ce-source": "/x", "ce-type": "t", "ce-specversion": "1.0"},
            b"{not json",
            "not valid JSON",
        ),
        (
            {
                "ce-id": "1",
                "ce-source": "/x",
                "ce-type": "t",
                "ce-specversion": "1.0",
                "ce-Bad_Ext": "v",
            },
            b"",
            "Extension attribute",
        ),
        ({"content-type": "application/cloudevents+json"}, b"[1]", "JSON object"),
        ({"content-type": "application/cloudevents+json"}, b"nope", "not JSON"),
        (
            {"content-type": "application/cloudevents+json"},
            b'{"id":"1","source":"/x","type":"t","specversion":"1.0","subject":{"a":1}}',
            "subject",
        ),
    ],
)
def test_invalid_events_are_refused_with_a_reason(
    headers: dict[str, str], body: bytes, reason: str
) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        from_http(headers, body)


def test_sinkbinding_overrides_add_extensions() -> None:
    overrides = parse_overrides('{"extensions": {"cluster": "eu-1"}}')
    assert apply_overrides(_event(), overrides).extensions == {"cluster": "eu-1"}
    assert parse_overrides(None) == {}
    with pytest.raises(ValueError, match="JSON"):
        parse_overrides("{oops")


def test_a_null_attribute_in_structured_mode_counts_as_absent() -> None:
    body = b'{"specversion":"1.0","id":"1","source":"/s","type":"t","subject":null,"x":null}'
    event = from_http({"content-type": "application/cloudevents+json"}, body)
    assert event.subject is None
    assert "x" not in event.extensions


def test_a_boolean_extension_is_valid_and_reads_as_its_canonical_string() -> None:
    body = b'{"specversion":"1.0","id":"1","source":"/s","type":"t","sampled":true}'
    assert from_http({"content-type": "application/cloudevents+json"}, body).extensions == {
        "sampled": "true"
    }


@pytest.mark.parametrize("time", ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01 00:00:00"])
def test_a_time_that_is_not_rfc3339_is_refused(time: str) -> None:
    headers = {"ce-id": "1", "ce-source": "/s", "ce-type": "t", "ce-specversion": "1.0"}
    with pytest.raises(InvalidEvent):
        from_http({**headers, "ce-time": time}, b"")


def test_an_rfc3339_time_with_an_offset_is_accepted() -> None:
    headers = {"ce-id": "1", "ce-source": "/s", "ce-type": "t", "ce-specversion": "1.0"}
    event = from_http({**headers, "ce-time": "2026-01-01T10:00:00.5+02:00"}, b"")
    assert event.time == "2026-01-01T10:00:00.5+02:00"


def test_a_null_time_in_structured_mode_counts_as_absent() -> None:
    body = b'{"specversion":"1.0","id":"1","source":"/s","type":"t","time":null}'
    assert from_http({"content-type": "application/cloudevents+json"}, body).time is None


def test_parsing_never_invents_a_missing_id_or_time() -> None:
    headers = {"ce-source": "/s", "ce-type": "t", "ce-specversion": "1.0"}
    with pytest.raises(InvalidEvent, match="id"):
        from_http(headers, b"")
    assert from_http({**headers, "ce-id": "1"}, b"").time is None


@pytest.mark.parametrize("time", ["20260101T000000Z", "2026-01-01", "2026-01-01T00:00:00"])
def test_iso_8601_forms_that_rfc3339_lacks_are_refused_in_both_modes(time: str) -> None:
    binary = {"ce-id": "1", "ce-source": "/s", "ce-type": "t", "ce-specversion": "1.0"}
    with pytest.raises(InvalidEvent, match="RFC 3339"):
        from_http({**binary, "ce-time": time}, b"")
    body = msgspec.json.encode({"specversion": "1.0", "id": "1", "source": "/s", "type": "t"})
    document = {**msgspec.json.decode(body), "time": time}
    with pytest.raises(InvalidEvent, match="RFC 3339"):
        from_http({"content-type": "application/cloudevents+json"}, msgspec.json.encode(document))


@pytest.mark.parametrize("encode", [to_binary, to_structured])
def test_time_travels_exactly_as_written(encode: object) -> None:
    event = _event(time="2026-01-01T10:00:00.5+02:00")
    headers, body = encode(event)  # type: ignore[operator]
    assert from_http(headers, body).time == "2026-01-01T10:00:00.5+02:00"


@pytest.mark.parametrize(
    "content_type", ["application/cloudevents-batch+json", "application/cloudevents+xml"]
)
def test_a_batch_or_a_non_json_format_is_an_unsupported_mode(content_type: str) -> None:
    with pytest.raises(UnsupportedMode) as refused:
        from_http({"content-type": content_type}, b"[]")
    assert refused.value.status == 415


@pytest.mark.parametrize("encode", [to_binary, to_structured])
def test_raw_json_data_from_the_outbox_is_written_as_is(encode: object) -> None:
    event = _event(data=msgspec.Raw(b'{"order_id":"o1"}'))
    headers, body = encode(event)  # type: ignore[operator]
    assert from_http(headers, body).data == {"order_id": "o1"}


def test_an_extension_that_is_an_object_is_refused() -> None:
    body = b'{"specversion":"1.0","id":"1","source":"/s","type":"t","ext":{"a":1}}'
    with pytest.raises(InvalidEvent, match="ext"):
        from_http({"content-type": "application/cloudevents+json"}, body)


@pytest.mark.parametrize("encode", [to_binary, to_structured])
def test_what_we_write_the_stock_sdk_reads_back_the_same(encode: object) -> None:
    from cloudevents.core.bindings import http
    from cloudevents.core.formats.json import JSONFormat

    event = _event().with_extensions(sampled="true")
    headers, body = encode(event)  # type: ignore[operator]
    theirs = http.from_http(http.HTTPMessage(headers, body), JSONFormat())
    assert (theirs.get_id(), theirs.get_source(), theirs.get_type()) == (
        event.id,
        event.source,
        event.type,
    )
    assert theirs.get_data() == event.data
    assert theirs.get_extension("sampled") == "true"
