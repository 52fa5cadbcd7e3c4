"""Cursor pagination, newest first: a cursor is the (created, id) key of the last item shown."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

import msgspec

from shop.runtime.errors import FieldError, InvalidInput
from shop.runtime.text import LINE_PATTERN

Limit = Annotated[int, msgspec.Meta(ge=1, le=100)]
DEFAULT_LIMIT = 20
# A cursor is opaque to clients but decoded from their input: its parts fit the columns they are
# compared with (a signed 64-bit integer, a short text without NUL) or the cursor is refused.
Created = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
ItemId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=LINE_PATTERN)]


class CursorKey(msgspec.Struct, array_like=True, frozen=True):
    created: Created
    id: ItemId


def encode_cursor(created: int, item_id: str) -> str:
    raw = msgspec.json.encode(CursorKey(created, item_id))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> CursorKey | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=CursorKey)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidInput(
            "The cursor is not valid.", [FieldError("cursor", "not a cursor from this list")]
        ) from None
