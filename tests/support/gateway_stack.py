"""A real gateway stack for tests outside tests/e2e/gateway (the security suite)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

import redis

from tests.e2e.gateway.harness import Stack
from tests.support.tokens import TokenFactory


@contextmanager
def gateway_stack(redis_url: str, tokens: TokenFactory) -> Iterator[Stack]:
    """Upstreams and gateways on a flushed Redis DB, all stopped at the end."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    with TemporaryDirectory(prefix="shop-gw-") as folder:
        jwks_file = Path(folder) / "jwks.json"
        jwks_file.write_text(json.dumps(tokens.keys.jwks()))
        stack = Stack(redis_url, jwks_file)
        try:
            yield stack
        finally:
            stack.close()
            client.flushdb()
            client.close()


def raw_request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One request with the path sent exactly as given (no client-side normalisation)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()
