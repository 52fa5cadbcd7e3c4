"""Money: an integer number of minor units and an ISO 4217 currency code."""

from __future__ import annotations

from typing import Annotated

import msgspec

Amount = Annotated[int, msgspec.Meta(ge=0, le=100_000_000_000)]
Currency = Annotated[str, msgspec.Meta(pattern=r"\A[A-Z]{3}\Z")]


class Money(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    amount: Amount
    currency: Currency
