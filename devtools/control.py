"""`shop up`'s control socket: `shop restart SERVICE` asks the running stack for a rolling
restart over a Unix socket in the data directory and prints its progress."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

SOCKET_NAME = "shop-up.sock"
Handler = Callable[[str], AsyncIterator[str]]


async def serve_control(path: Path, handler: Handler) -> asyncio.Server:
    """Answer one command line per connection with the handler's progress lines."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            command = (await reader.readline()).decode().strip()
            async for line in handler(command):
                writer.write(line.encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    path.unlink(missing_ok=True)  # noqa: ASYNC240 - a local file, once at start-up
    return await asyncio.start_unix_server(session, path=str(path))


def send_command(path: Path, command: str, *, timeout: float = 120.0) -> tuple[bool, list[str]]:
    """Send a command to a running `shop up`; (ok, the lines it answered). Blocking."""
    lines: list[str] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(command.encode() + b"\n")
        buffer = b""
        while chunk := sock.recv(4096):
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for raw in complete:
                line = raw.decode()
                lines.append(line)
                print(line, flush=True)
    return bool(lines) and lines[-1].startswith("ok"), lines
