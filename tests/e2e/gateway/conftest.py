from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.gateway.harness import Stack
from tests.support.tokens import TokenFactory


@pytest.fixture
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture
def stack(redis_url: str, tmp_path: Path, tokens: TokenFactory) -> Iterator[Stack]:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(tokens.keys.jwks()))
    built = Stack(redis_url, jwks_file)
    try:
        yield built
    finally:
        built.close()
        client.flushdb()
        client.close()
