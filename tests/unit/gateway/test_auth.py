from __future__ import annotations

from typing import Any

import pytest

from gateway.auth import Authenticator, authorize
from shop.auth.tokens import Claims, TokenVerifier
from shop.runtime.errors import Forbidden, Unauthenticated
from tests.support.tokens import TokenFactory


class Verifier:
    def __init__(self) -> None:
        self.calls = 0

    async def verify(self, token: str) -> Claims:
        self.calls += 1
        if token == "bad":
            raise Unauthenticated("The token is invalid.")
        sub, role, exp = token.split(":")
        return Claims(sub=sub, role=role, iss="shop", aud="shop", exp=int(exp), iat=0)


async def test_a_token_signed_with_a_withdrawn_key_is_refused_once_the_keys_are_refetched() -> None:
    old, new = TokenFactory(), TokenFactory()
    published = [old.keys.jwks()]

    async def fetch() -> dict[str, Any]:
        return published[0]

    verifier = TokenVerifier(fetch, issuer="shop", audience="shop", min_refresh_seconds=0)
    auth = Authenticator(verifier)
    withdrawn = f"Bearer {old.token('alice')}"
    assert (await auth.identify(withdrawn)).sub == "alice"
    assert (await auth.identify(withdrawn)).sub == "alice"  # now cached

    published[0] = new.keys.jwks()  # rotation: the old key is withdrawn
    assert (await auth.identify(f"Bearer {new.token('bob')}")).sub == "bob"  # the refetch

    with pytest.raises(Unauthenticated):
        await auth.identify(withdrawn)


async def test_failures_are_never_cached() -> None:
    verifier = Verifier()
    auth = Authenticator(verifier)

    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await auth.identify("Bearer bad")

    assert verifier.calls == 2


async def test_a_missing_or_malformed_header_is_unauthenticated() -> None:
    auth = Authenticator(Verifier())

    for header in (None, "", "Basic abc", "Bearer "):
        with pytest.raises(Unauthenticated):
            await auth.identify(header)


def test_route_policies() -> None:
    customer = Claims(sub="a", role="customer", iss="shop", aud="shop", exp=1, iat=0)
    admin = Claims(sub="r", role="admin", iss="shop", aud="shop", exp=1, iat=0)

    authorize("public", None)
    authorize("user", customer)
    authorize("admin", admin)
    with pytest.raises(Unauthenticated):
        authorize("user", None)
    with pytest.raises(Forbidden):
        authorize("admin", customer)
