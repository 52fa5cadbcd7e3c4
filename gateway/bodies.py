"""Request bodies on the way upstream: small ones read whole (so a retry can resend them),
large ones streamed, and both cut off at the size limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from litestar.exceptions import HTTPException

if TYPE_CHECKING:
    from litestar.types import Receive


class BodyTooLarge(Exception):
    """Raised inside a streamed upload that went over the limit."""


def too_large() -> HTTPException:
    return HTTPException(status_code=413, detail="The request body is too large.")


async def read_all(receive: Receive, limit: int) -> bytes:
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise asyncio.CancelledError
        chunk: bytes = message.get("body", b"")  # type: ignore[assignment]
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class Streamed:
    """A large body, passed upstream chunk by chunk as the client sends it. `exceeded` tells
    afterwards whether it was cut off at the limit (the client gets a 413)."""

    __slots__ = ("exceeded", "length", "limit", "receive")

    def __init__(self, receive: Receive, limit: int, length: int | None = None) -> None:
        self.receive = receive
        self.limit = limit
        self.length = length  # the declared Content-Length; None when the client sends chunks
        self.exceeded = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise asyncio.CancelledError
            chunk: bytes = message.get("body", b"")  # type: ignore[assignment]
            size += len(chunk)
            if size > self.limit:
                self.exceeded = True
                raise BodyTooLarge
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return
