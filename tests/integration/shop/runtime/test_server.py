"""The server loads no WebSocket protocol (no service serves one; importing it cost every cold
start): an upgrade request is answered as plain HTTP, and without a log line per request."""

from __future__ import annotations

import socket

import pytest

from devtools.served import Served

pytestmark = pytest.mark.integration
UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
)


def test_a_websocket_upgrade_is_answered_as_plain_http_without_a_warning() -> None:
    served = Served("notifications", {"REDIS_URL": ""})
    try:
        served.wait_ready()
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
            sock.sendall(UPGRADE)
            answer = sock.recv(65536)
        log = served.output()
    finally:
        served.stop()

    assert answer.startswith(b"HTTP/1.1 404 ")
    assert "upgrade" not in log.lower()
    assert "websocket" not in log.lower()
