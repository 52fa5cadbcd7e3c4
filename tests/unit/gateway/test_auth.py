from __future__ import annotations

import pytest

from gateway.auth import Authenticator, authorize
from shop.auth.tokens import Claims
from shop.runtime.errors import Forbidden, Unauthenticated


class Verifier:
    def __init__(self) -> None:
        self.calls = 0

    async def verify(self, token: str) -> Claims:
        self.calls += 1
        if token == "bad":
            raise Unauthenticated("The token is invalid.")
        sub, role, exp = token.split(":")
        return Claims(sub=sub, role=role, iss="shop", aud="shop", exp=int(exp), iat=0)


async def test_a_verified_token_is_cached_until_it_expires() -> None:
    now = [100.0]
    verifier = Verifier()
    auth = Authenticator(verifier, clock=lambda: now[0])

    first = await auth.identify("Bearer alice:customer:200")
    again = await auth.identify("Bearer alice:customer:200")
    now[0] = 201.0

    assert first == again
    assert verifier.calls == 1
    with pytest.raises(Unauthenticated, match="expired"):
        await auth.identify("Bearer alice:customer:200")


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


async def test_the_cache_stays_bounded() -> None:
    auth = Authenticator(Verifier(), cache_size=4, clock=lambda: 0.0)

    for index in range(10):
        await auth.identify(f"Bearer u{index}:customer:100")

    assert len(auth._cache) <= 4


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
