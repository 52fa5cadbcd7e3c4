"""Issue 10, item 9: one client cannot hold the gateway's memory, connections or time.

A real gateway process on loopback; every socket has a timeout, so each test is bounded.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from devtools.served import Served
from tests.e2e.gateway.harness import Stack
from tests.support.gateway_stack import gateway_stack, raw_request
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.e2e
LIMITS = {
    "MAX_HEAD_BYTES": "16384",
    "MAX_HEADERS": "50",
    "MAX_URL_BYTES": "2048",
    "HEADER_TIMEOUT_SECONDS": "1",
    "BODY_TIMEOUT_SECONDS": "1",
    "MAX_CONNECTIONS": "8",
}


@pytest.fixture
def gateway(redis_url: str) -> Iterator[Served]:
    with gateway_stack(redis_url, TokenFactory()) as stack:
        yield _started(stack)


def _started(stack: Stack) -> Served:
    products = stack.upstream("products", "p0")
    gateway = stack.gateway(**LIMITS)
    stack.ready(products, gateway)
    return gateway


def _send(gateway: Served, data: bytes) -> bytes:
    """Send `data` and read until the server closes (bounded by the socket's timeout)."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(data)
        return _until_closed(sock)


def _until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_an_oversized_header_is_refused_with_431(gateway: Served) -> None:
    head = b"GET /products/x HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    assert _status(_send(gateway, head)) == 431


def test_too_many_headers_are_refused_with_431(gateway: Served) -> None:
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(200))
    head = b"GET /products/x HTTP/1.1\r\nHost: a\r\n" + many + b"Connection: close\r\n\r\n"
    assert _status(_send(gateway, head)) == 431


def test_a_long_request_line_is_refused_with_414(gateway: Served) -> None:
    head = b"GET /products/" + b"x" * 4000 + b" HTTP/1.1\r\nHost: a\r\n\r\n"
    assert _status(_send(gateway, head)) == 414


def test_a_head_sent_slowly_is_cut_off_with_408(gateway: Served) -> None:
    # Part of a head, then silence: the server must not wait for the rest.
    assert _status(_send(gateway, b"GET /products/x HTTP/1.1\r\nHost: a\r\n")) == 408


def test_an_idle_connection_without_a_request_is_closed(gateway: Served) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        assert _status(_until_closed(sock)) == 408


def test_a_body_that_stalls_loses_its_connection(gateway: Served) -> None:
    head = b"POST /users HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n"  # public
    answer = _send(gateway, head + b"x" * 10)
    assert b"200 OK" not in answer  # closed (or refused), never served with a partial body


def test_connections_beyond_the_cap_get_503_until_some_close(gateway: Served) -> None:
    held = [socket.create_connection(("127.0.0.1", gateway.port), timeout=10) for _ in range(8)]
    try:
        crowded = raw_request(gateway.port, "GET", "/products/x")[0]
    finally:
        for sock in held:
            sock.close()
    assert crowded == 503
    assert raw_request(gateway.port, "GET", "/products/x")[0] == 200
