"""Scripted HTTP origins on real loopback sockets: they answer exactly as a test says."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from shop.http import origins

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


class Scripted:
    """A loopback origin: `handler` runs once per connection; `connections` counts them."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> origins.Origin:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return origins.Origin("http", "127.0.0.1", port, connect_timeout=2.0)

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


async def head_of(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def answering(*answers: bytes, log: list[bytes] | None = None) -> Handler:
    """Answer each request on a connection with the next of `answers`, then hang up."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:
            head = await head_of(reader)
            if log is not None:
                log.append(head)
            writer.write(answer)
            await writer.drain()

    return handler
