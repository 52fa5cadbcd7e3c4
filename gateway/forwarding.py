"""What the gateway changes in headers on the way through (RFC 9110 §7.6.1)."""

from __future__ import annotations

from collections.abc import Iterable

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Set by the gateway only: a client never gets to choose them. The framing (Content-Length
# or chunked) is the upstream connection's own, and the gateway answers `Expect` itself.
# `X-User-*` is no identity anyone sends: the functions read the caller from the bearer token,
# which they verify themselves, so a header could only be a second, unverified channel. A
# client's own are dropped all the same, so nothing behind the gateway can be fooled by one.
_REQUEST_DROP = HOP_BY_HOP | {
    b"host",
    b"content-length",
    b"expect",
    b"x-user-id",
    b"x-user-role",
    b"x-request-id",
    b"x-forwarded-for",
    b"x-forwarded-host",
    b"x-forwarded-proto",
    b"forwarded",
}
# The gateway's own server adds these: never twice.
_RESPONSE_DROP = HOP_BY_HOP | {b"date", b"server", b"x-request-id"}
Headers = list[tuple[bytes, bytes]]


class RequestHead:
    """What the proxy needs from the request headers, read in one pass."""

    __slots__ = ("authorization", "chunked", "idempotency_key", "length")

    def __init__(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        self.authorization: str | None = None
        self.idempotency_key = False
        self.length: int | None = None
        self.chunked = False
        for name, value in headers:
            if name == b"authorization":
                self.authorization = value.decode("latin-1")
            elif name == b"content-length":
                self.length = int(value) if value.isdigit() else -1
            elif name == b"transfer-encoding":
                self.chunked = True
            elif name == b"idempotency-key":
                self.idempotency_key = True


def connection_listed(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Header names a `Connection` header declares hop-by-hop."""
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named.update(token.strip().lower() for token in value.split(b","))
    return frozenset(named)


def request_headers(
    headers: Iterable[tuple[bytes, bytes]],
    *,
    peer: str,
    scheme: str,
    request_id: str,
) -> Headers:
    """The headers sent upstream: end-to-end ones kept (the `Authorization` too), forwarding
    ones set, spoofable identity ones dropped.

    `peer` and `scheme` come from the server, which believes `X-Forwarded-*` only from
    `TRUSTED_PROXIES` and takes the right-most untrusted hop as the client. Upstream,
    `X-Forwarded-For` is that client alone: the client's own claims are never passed on.
    `X-Forwarded-Host` keeps the first proxy's value, else the `Host`."""
    out: Headers = []
    host = forwarded_host = b""
    listed: frozenset[bytes] | None = None
    for name, value in headers:
        if name in _REQUEST_DROP:
            if name == b"host":
                host = value
            elif name == b"x-forwarded-host":
                forwarded_host = value
            elif name == b"connection":
                listed = connection_listed([(name, value)])
            continue
        out.append((name, value))
    if listed:
        out = [(n, v) for n, v in out if n not in listed]
    out.append((b"x-forwarded-for", peer.encode("latin-1")))
    out.append((b"x-forwarded-proto", scheme.encode("latin-1")))
    original_host = forwarded_host or host
    if original_host:
        out.append((b"x-forwarded-host", original_host))
    out.append((b"x-request-id", request_id.encode("latin-1")))
    return out


def response_headers(raw: Iterable[tuple[bytes, bytes]]) -> Headers:
    """Upstream response headers minus hop-by-hop ones, lower-cased for ASGI."""
    out: Headers = []
    listed: frozenset[bytes] | None = None
    for name, value in raw:
        lowered = name.lower()
        if lowered in _RESPONSE_DROP:
            if lowered == b"connection":
                listed = connection_listed([(lowered, value)])
            continue
        out.append((lowered, value))
    if listed:
        out = [(n, v) for n, v in out if n not in listed]
    return out
