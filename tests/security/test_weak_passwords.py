"""Issue 10, "also": twelve identical characters were accepted as a password."""

from __future__ import annotations

import pytest

from devtools.served import Served
from tests.security.users import client, sign_up

WEAK = ["a" * 12, "123456789012", "password1234", "mallory-1234567", "qwertyuiop12"]


@pytest.mark.parametrize("redis_version", ["redis-7"], indirect=True)
def test_common_repetitive_and_context_passwords_are_refused_at_sign_up(
    serve_users: Served,
) -> None:
    with client(serve_users.url, "127.0.0.4") as http:
        for n, password in enumerate(WEAK):
            answer = sign_up(http, "mallory", password)
            assert answer.status_code == 422, (n, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert [e["field"] for e in answer.json()["errors"]] == ["password"]
        assert sign_up(http, "mallory").status_code == 201
