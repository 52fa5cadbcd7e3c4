"""One request on the lean client, its answer read in full: what service calls
(`shop.http.clients`) and event POSTs (`shop.events.poster`) both make."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from shop.http import origins
from shop.http.pools import Pools


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer, read in full. Header names are lower case."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        try:
            return msgspec.json.decode(self.content)
        except msgspec.DecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from None


async def exchange(
    pools: Pools,
    method: str,
    base: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    seconds: float,
) -> Reply:
    """`method` `base` + `path` on the pool of `base`'s origin, answered within `seconds`."""
    origin, prefix = pools.origin(base)
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    async with asyncio.timeout(seconds):
        response = await origins.send(origin, method, prefix + path, raw, body, seconds)
        try:
            content = await response.read()
        finally:
            response.release()
    found = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
    return Reply(response.status, found, content)
