from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.gateway.harness import Stack
from tests.support.gateway_stack import gateway_stack
from tests.support.tokens import TokenFactory


@pytest.fixture
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture
def stack(redis_url: str, tokens: TokenFactory) -> Iterator[Stack]:
    with gateway_stack(redis_url, tokens) as built:
        yield built
