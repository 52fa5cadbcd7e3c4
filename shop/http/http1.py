"""The lean HTTP/1.1 client's wire side, on httptools: one connection and its answer. The
pools per origin that send requests on it are `shop.http.origins` (which imports this module,
never the other way round); why a lean client at all is in `shop.http.pools`.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator
from typing import Protocol

import httptools

Headers = list[tuple[bytes, bytes]]
_HIGH_WATER = 262_144  # bytes of response body buffered before the socket stops being read


class Refused(ConnectionError):
    """No connection to the origin: the request never reached it."""


class Broken(ConnectionError):
    """The connection failed or the answer was not HTTP after the request was sent."""


class Home(Protocol):
    """Where a connection goes when its answer is read (its origin's pool); told each time
    the connection closes (maybe more than once)."""

    def put(self, connection: Connection) -> None: ...

    def closed(self, connection: Connection) -> None: ...


class Connection(asyncio.Protocol):
    def __init__(self, home: Home) -> None:
        self.home = home
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.used = time.monotonic()
        self.deadline: float | None = None  # of the wait under way (`within`), if any
        self.timer: asyncio.TimerHandle | None = None
        self.reset()

    def reset(self) -> None:
        self.status = 0
        self.headers: Headers = []
        self.body: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.complete = False
        self.failure: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None
        self.keep = True
        self.interim = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(Broken(f"not an HTTP answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._stop_timer()
        self.home.closed(self)
        if self.status and not self.complete and not self._framed():
            self.complete = True  # a body delimited by closing the connection
            self._wake()
        else:
            self._fail(Broken(str(exc) if exc else "connection closed"))
        self._wake_writer()

    def pause_writing(self) -> None:
        self.drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._wake_writer()

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # 1xx: an interim answer; the final one follows on this connection
            self.interim = True
            self.headers = []
            return
        self.status = status
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        self.keep = self.keep and self.parser.should_keep_alive()  # valid only in here
        self.complete = True
        self._wake()

    # used by Response
    async def wait(self) -> None:
        waiter = self.waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self.waiter = None

    def take(self) -> bytes:
        data = b"".join(self.body) if len(self.body) != 1 else self.body[0]
        self.body.clear()
        if self.buffered > _HIGH_WATER and self.transport is not None:
            self.transport.resume_reading()
        self.buffered = 0
        return data

    def reusable(self) -> bool:
        return (
            self.complete
            and self.keep
            and self.failure is None
            and self.transport is not None
            and not self.transport.is_closing()
        )

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        self._stop_timer()
        self.home.closed(self)

    def idle_since(self) -> float:
        """Mark the connection idle from now; returns the moment."""
        self.used = now = time.monotonic()
        return now

    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def no_body(self) -> None:
        """The answer to a HEAD: complete with its headers, whatever Content-Length says."""
        self.complete, self.keep = True, False

    def never_reuse(self) -> None:
        self.keep = False

    def _framed(self) -> bool:
        for name, _ in self.headers:
            lowered = name.lower()
            if lowered == b"content-length" or lowered == b"transfer-encoding":
                return True
        return False

    def _fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
        self.close()
        self._wake()

    def _stop_timer(self) -> None:
        self.deadline = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_writer(self) -> None:
        drained, self.drained = self.drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)


class Response:
    """An answer whose headers are in; its body is read with `read()` or `chunks()`. Every
    response must be released: its connection goes back to the pool or is closed."""

    __slots__ = ("_body", "_connection", "_timeout", "content_length", "headers", "status")

    def __init__(self, connection: Connection, seconds: float) -> None:
        self._connection = connection
        self._timeout = seconds
        self.status = connection.status
        self.headers = connection.headers
        self.content_length: int | None = None
        self._body: bytes | None = None
        for name, value in self.headers:
            if name.lower() == b"content-length" and value.isdigit():
                self.content_length = int(value)

    async def read(self) -> bytes:
        """The whole body (kept: reading again returns it again)."""
        if self._body is None:
            connection = self._connection
            while not connection.complete:
                if connection.failure is not None:
                    raise connection.failure
                await within(connection, self._timeout)
            self._body = connection.take()
        return self._body

    async def chunks(self) -> AsyncIterator[bytes]:
        connection = self._connection
        while True:
            if connection.body:
                yield connection.take()
                continue
            if connection.complete:
                return
            if connection.failure is not None:
                raise connection.failure
            await within(connection, self._timeout)

    def release(self) -> None:
        connection = self._connection
        if connection.reusable() and not connection.body:
            connection.home.put(connection)
        else:
            connection.close()


async def within(connection: Connection, seconds: float) -> None:
    """Wait for the connection's next event, at most `seconds`.

    A connection keeps at most one timer: a wait moves its deadline, and the timer, when it
    fires early (the deadline moved on), re-arms itself for the deadline; a shorter wait than the
    timer's sets a new one. So a wait costs a clock read, not a timer to schedule and cancel."""
    loop = asyncio.get_running_loop()
    connection.deadline = deadline = loop.time() + seconds
    timer = connection.timer
    if timer is None or timer.when() > deadline:  # none yet, or set for a longer wait
        if timer is not None:
            timer.cancel()
        connection.timer = loop.call_at(deadline, _expire, connection, loop)
    try:
        await connection.wait()
    finally:
        connection.deadline = None


def _expire(connection: Connection, loop: asyncio.AbstractEventLoop) -> None:
    connection.timer = None
    deadline = connection.deadline
    if deadline is None:  # no wait under way
        return
    if deadline > loop.time():  # moved since the timer was set: wait on
        connection.timer = loop.call_at(deadline, _expire, connection, loop)
        return
    connection._fail(TimeoutError("the upstream did not answer in time"))
