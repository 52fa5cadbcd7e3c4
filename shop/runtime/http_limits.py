"""Bounds on what one client may hold of a server: head size, header count, URL length, and
how long a request head or a gap in its body may take (slowloris).

uvicorn's httptools protocol bounds none of them (h11 bounds only the head's size, with
`h11_max_incomplete_event_size`), so this subclass counts in the parser's callbacks: a head
over a limit gets 431 (414 for the URL) and the connection closes; a head not complete within
`header_timeout` (counted from its first byte, or from the connection for the first request)
gets 408; a body that pauses longer than `body_timeout` loses its connection, which the app
sees as a disconnect. The number of connections is uvicorn's `limit_concurrency` (503).

A connection keeps at most one timer: arming moves a deadline, and the timer, when it fires
early, re-arms itself for the deadline. So a request costs a clock read, not a timer to
schedule and cancel at each of its parser events.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HttpLimits(msgspec.Struct, frozen=True):
    max_head_bytes: int = 65_536
    max_headers: int = 100
    max_url_bytes: int = 8_192
    header_timeout: float = 10.0
    body_timeout: float = 30.0


_REASONS = {408: b"Request Timeout", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}


class _Refused(Exception):
    """Raised in a parser callback: httptools reports it as a parse error."""


class BoundedHttpTools(HttpToolsProtocol):
    limits: ClassVar[HttpLimits] = HttpLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._refusal = 0
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None  # None: nothing to time
        self._head = True  # what the deadline times: a head (408) or a body's gap

    @classmethod
    def with_limits(cls, limits: HttpLimits) -> type[BoundedHttpTools]:
        return type("BoundedHttpTools", (cls,), {"limits": limits})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout, head=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm(self.limits.header_timeout, head=True)

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > self.limits.max_url_bytes:
            self._refuse(414)
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self.headers) >= self.limits.max_headers:
            self._refuse(431)
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._arm(self.limits.body_timeout, head=False)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._arm(self.limits.body_timeout, head=False)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _unsupported_upgrade_warning(self) -> None:
        """No service serves WebSockets (uvicorn runs with `ws="none"`): an upgrade request is
        answered as plain HTTP, without uvicorn's two warnings per request (a free log flood)."""

    def send_400_response(self, msg: str) -> None:
        if not self._refusal:
            super().send_400_response(msg)
            return
        self._answer_and_close(self._refusal)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.limits.max_head_bytes:
            self._refuse(431)

    def _refuse(self, status: int) -> None:
        self._refusal = status
        raise _Refused

    def _arm(self, seconds: float, *, head: bool) -> None:
        self._deadline = self.loop.time() + seconds
        self._head = head
        if self._timer is None:
            self._timer = self.loop.call_at(self._deadline, self._expired)

    def _disarm(self) -> None:
        self._deadline = None

    def _expired(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self.transport.is_closing():
            return
        if deadline > self.loop.time():  # moved since the timer was set: wait on
            self._timer = self.loop.call_at(deadline, self._expired)
            return
        self._deadline = None
        if self._head:
            self._answer_and_close(408)
        else:  # mid-body: the app is running; it sees a disconnect
            self.transport.close()

    def _answer_and_close(self, status: int) -> None:
        self.transport.write(
            b"HTTP/1.1 %d %b\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            % (status, _REASONS[status])
        )
        self.transport.close()
