"""Issue 10, item 4: no spelling of the login path escapes the strict login limit."""

from __future__ import annotations

import pytest

from tests.support.gateway_stack import gateway_stack, raw_request
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.e2e

LOGIN_SPELLINGS = [
    "/auth//token",
    "//auth/token",
    "/auth/./token",
    "/auth/x/../token",
    "/auth/%74oken",
    "/%61uth/token",
    "/auth%2Ftoken",
    "/auth%252Ftoken",
    "/auth/%2e/token",
    "/auth/token/",
]


def test_every_spelling_of_the_login_path_is_refused_or_held_to_the_login_limit(
    redis_url: str,
) -> None:
    with gateway_stack(redis_url, TokenFactory()) as stack:
        users = stack.upstream("users", "u0")
        gateway = stack.gateway(RATE_LIMIT_AUTH_BURST="2", RATE_LIMIT_AUTH_PER_MINUTE="0.01")
        stack.ready(users, gateway)
        login = [raw_request(gateway.port, "POST", "/auth/token")[0] for _ in range(4)]
        assert login[-1] == 429, login  # the login limit is spent

        answers = {path: raw_request(gateway.port, "POST", path) for path in LOGIN_SPELLINGS}

    for path, (status, headers, _) in answers.items():
        assert status in {400, 404, 429}, f"{path} reached the login handler: {status}"
        assert headers["content-type"].startswith("application/problem+json"), path
