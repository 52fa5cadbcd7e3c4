"""A strict media-type parser (RFC 9110 section 8.3.1), as strict as Go's mime.ParseMediaType,
which Prometheus uses on every scrape: a duplicate parameter name is an error, not a warning."""

from __future__ import annotations

import re

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[\t\x20-\x7e\x80-\xff])*"'
_TYPE = re.compile(rf"({_TOKEN})/({_TOKEN})")
_PARAMETER = re.compile(rf"[ \t]*;[ \t]*(?:({_TOKEN})=({_TOKEN}|{_QUOTED}))?")
_UNQUOTE = re.compile(r"\\(.)")


class InvalidMediaType(ValueError):
    pass


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """("type/subtype" lowercased, {parameter name lowercased: value}) or InvalidMediaType."""
    found = _TYPE.match(value)
    if found is None:
        raise InvalidMediaType(f"no type/subtype in {value!r}")
    media_type = f"{found[1]}/{found[2]}".lower()
    parameters: dict[str, str] = {}
    position = found.end()
    while position < len(value):
        parameter = _PARAMETER.match(value, position)
        if parameter is None or parameter.end() == position:
            raise InvalidMediaType(f"malformed parameters at {value[position:]!r} in {value!r}")
        position = parameter.end()
        if parameter[1] is None:
            continue  # an empty parameter (";;") is allowed by the grammar
        name = parameter[1].lower()
        if name in parameters:
            raise InvalidMediaType(f"duplicate parameter name {name!r} in {value!r}")
        raw = parameter[2]
        parameters[name] = _UNQUOTE.sub(r"\1", raw[1:-1]) if raw.startswith('"') else raw
    return media_type, parameters
