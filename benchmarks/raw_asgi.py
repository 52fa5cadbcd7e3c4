"""The floor under any Python proxy here: uvicorn (uvloop, httptools) answering a raw ASGI app
from memory with the same document the benchmark's upstream serves. No framework, no proxying."""

from __future__ import annotations

from typing import Any

import msgspec

from benchmarks.gateway_upstream import ITEMS

BODY = msgspec.json.encode({"items": ITEMS, "next_cursor": None})
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
