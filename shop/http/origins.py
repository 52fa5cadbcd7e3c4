"""Keep-alive connections per origin (scheme://host:port), bounded, and sending a request on
one. Imports the wire side (`shop.http.http1`); it never imports this module."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterable, Callable

from shop.http.http1 import Broken, Connection, Headers, Refused, Response, within

_IDLE_SECONDS = 50.0  # under the functions' 75 s keep-alive: we close first, never they


class Limit:
    """Open connections across every origin of one pool, at most `most`. At the limit a new
    connection first closes the longest idle one anywhere (`evict`), else waits until a
    connection is released or closes."""

    def __init__(self, most: int, evict: Callable[[], bool] = lambda: False) -> None:
        self.most = most
        self.open = 0
        self.evict = evict
        self._waiters: list[asyncio.Future[None]] = []

    def take(self) -> bool:
        """One more open connection, if the limit allows (after evicting an idle one)."""
        if self.open < self.most or self.evict():
            self.open += 1
            return True
        return False

    async def changed(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def release(self) -> None:
        self.open -= 1
        self.wake()

    def wake(self) -> None:
        """A connection closed or went idle: the oldest waiter looks again."""
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return


class Origin:
    """Idle keep-alive connections to one scheme://host:port, newest first, at most `max_idle`
    of them."""

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        connect_timeout: float,
        *,
        max_idle: int = 10,
        limit: Limit | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.ssl = ssl.create_default_context() if scheme == "https" else None
        default = 443 if scheme == "https" else 80
        name = f"[{host}]" if ":" in host else host
        self.authority = (name if port == default else f"{name}:{port}").encode("ascii")
        self.connect_timeout = connect_timeout
        self.max_idle = max_idle
        self.limit = limit or Limit(1_000_000)
        self.idle: list[Connection] = []
        self.live: set[Connection] = set()  # open, idle or in use: each holds one of `limit`
        self.retired = False

    async def get(self) -> Connection:
        reused = self._reuse()  # the usual case, without the cost of a timeout scope
        if reused is not None:
            return reused
        try:
            async with asyncio.timeout(self.connect_timeout):
                while True:
                    reused = self._reuse()
                    if reused is not None:
                        return reused
                    if self.limit.take():
                        return await self._connect()
                    await self.limit.changed()
        except TimeoutError as exc:
            raise Refused(f"no connection to {self.host}:{self.port} in time: {exc}") from exc

    def _reuse(self) -> Connection | None:
        idle = self.idle
        oldest_usable = time.monotonic() - _IDLE_SECONDS
        while idle:
            connection = idle.pop()
            if connection.open() and connection.used > oldest_usable:
                connection.reset()
                return connection
            connection.close()
        return None

    async def _connect(self) -> Connection:
        """Open a connection on the slot `limit.take()` gave."""
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await loop.create_connection(
                lambda: Connection(self), self.host, self.port, ssl=self.ssl
            )
        except BaseException as exc:
            self.limit.release()
            if isinstance(exc, OSError):
                raise Refused(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
            raise
        self.live.add(protocol)
        return protocol

    def put(self, connection: Connection) -> None:
        if self.retired or not self.max_idle:  # the origin left (or keeps none): close
            connection.close()
            return
        now = connection.idle_since()
        idle = self.idle
        while idle and (
            len(idle) >= self.max_idle or not idle[0].open() or idle[0].used < now - _IDLE_SECONDS
        ):
            idle.pop(0).close()  # the oldest: one too many, closed by the origin, or idle too long
        idle.append(connection)
        self.limit.wake()

    def closed(self, connection: Connection) -> None:
        if connection in self.live:
            self.live.discard(connection)
            self.limit.release()

    def evict_oldest(self) -> bool:
        """Close the longest idle connection, if any (the pool is at its limit)."""
        if not self.idle:
            return False
        self.idle.pop(0).close()
        return True

    def close(self) -> None:
        """Close the idle connections and retire: those in use close when released."""
        self.retired = True
        for connection in self.idle:
            connection.close()
        self.idle.clear()


async def send(
    origin: Origin,
    method: str,
    target: str,
    headers: Headers,
    body: bytes | AsyncIterable[bytes] | None,
    seconds: float,
    length: int | None = None,
) -> Response:
    """Send a request and wait (up to `seconds`) for its answer's headers. `headers` are
    end-to-end ones: the framing (Content-Length or chunked) and Host are set here."""
    connection = await origin.get()
    head = [f"{method} {target} HTTP/1.1\r\n".encode("latin-1"), b"host: ", origin.authority]
    for name, value in headers:
        head += (b"\r\n", name, b": ", value)
    streamed = body is not None and not isinstance(body, bytes)
    if isinstance(body, bytes):
        if body or method in {"POST", "PUT", "PATCH"}:
            head.append(b"\r\ncontent-length: %d" % len(body))
    elif streamed:
        head.append(b"\r\ncontent-length: %d" % length if length is not None else b"")
        head.append(b"" if length is not None else b"\r\ntransfer-encoding: chunked")
    head.append(b"\r\n\r\n")
    if isinstance(body, bytes):
        head.append(body)
    try:
        transport = connection.transport
        if transport is None:
            raise Broken("connection closed")
        transport.write(b"".join(head))
        if streamed and body is not None and not isinstance(body, bytes):
            await _upload(connection, body, chunked=length is None)
        while not connection.status:
            if connection.failure is not None:
                raise connection.failure
            await within(connection, seconds)
        if method == "HEAD":  # no body follows, whatever Content-Length says
            connection.no_body()
    except BaseException:
        connection.close()
        raise
    return Response(connection, seconds)


async def _upload(connection: Connection, body: AsyncIterable[bytes], *, chunked: bool) -> None:
    async for chunk in body:
        transport = connection.transport
        if transport is None or connection.status:
            connection.never_reuse()  # answered (or hung up) mid-upload
            return
        transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
        if connection.drained is not None:
            await connection.drained
    if chunked and connection.transport is not None:
        connection.transport.write(b"0\r\n\r\n")


def origin_key(base: str) -> tuple[str, str, int]:
    scheme, _, rest = base.partition("://")
    authority = rest.split("/", 1)[0]
    host, _, port = authority.rpartition(":")
    if not host or not port.isdigit():
        host, port = authority, "443" if scheme == "https" else "80"
    return scheme, host.strip("[]"), int(port)


def split(url: str) -> tuple[str, str]:
    """A base URL (scheme://authority) and the path prefix it carries, if any."""
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority}", (slash + path).rstrip("/")
