from __future__ import annotations

import pytest

from shop.runtime.clock import rfc3339
from shop.runtime.errors import InvalidInput
from shop.runtime.pages import decode_cursor, encode_cursor


def test_a_cursor_round_trips_its_key() -> None:
    key = decode_cursor(encode_cursor(1_700_000_000_123_456, "id-9"))
    assert key is not None
    assert (key.created, key.id) == (1_700_000_000_123_456, "id-9")
    assert decode_cursor(None) is None
    assert decode_cursor("") is None


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", "WzFd", "eyJhIjoxfQ"])
def test_a_forged_cursor_is_invalid_input(cursor: str) -> None:
    with pytest.raises(InvalidInput):
        decode_cursor(cursor)


def test_times_are_rfc3339_utc_with_milliseconds() -> None:
    assert rfc3339(1_700_000_000_123_456) == "2023-11-14T22:13:20.123Z"
