from __future__ import annotations

from typing import Any

import pytest

from functions.users.keys import SigningKeys, generate_pem
from shop.errors import Unauthenticated, Unavailable
from shop.tokens import TokenVerifier, bearer
from tests.support.tokens import TokenFactory


def verifier_for(factory: TokenFactory, **options: Any) -> TokenVerifier:
    return TokenVerifier(factory.jwks, issuer="shop", audience="shop", **options)


async def test_a_valid_token_yields_its_claims() -> None:
    factory = TokenFactory()
    claims = await verifier_for(factory).verify(factory.token("u-7", "admin"))
    assert (claims.sub, claims.role, claims.email, claims.is_admin) == (
        "u-7",
        "admin",
        "u-7@example.com",
        True,
    )


@pytest.mark.parametrize(
    "attack",
    [
        "expired",
        "unsigned",
        "hmac_with_public_key",
        "forged",
        "wrong_audience",
        "wrong_issuer",
        "garbage",
    ],
)
async def test_bad_tokens_are_refused(attack: str) -> None:
    factory = TokenFactory()
    tokens = {
        "expired": factory.expired(),
        "unsigned": factory.unsigned(),
        "hmac_with_public_key": factory.hmac_with_public_key(),
        "forged": factory.forged(),
        "wrong_audience": factory.token(aud="elsewhere"),
        "wrong_issuer": factory.token(iss="mallory"),
        "garbage": "not.a.token",
    }
    with pytest.raises(Unauthenticated):
        await verifier_for(factory).verify(tokens[attack])


async def test_a_token_missing_a_required_claim_is_refused() -> None:
    factory = TokenFactory()
    claims = factory.claims()
    del claims["role"]
    with pytest.raises(Unauthenticated):
        await verifier_for(factory).verify(factory.keys.sign(claims))


async def test_an_unknown_kid_refetches_the_key_set_once_per_interval() -> None:
    old, new = generate_pem(), generate_pem()
    published = {"keys": SigningKeys([old]).jwks()["keys"]}
    fetches = 0

    async def fetch() -> dict[str, Any]:
        nonlocal fetches
        fetches += 1
        return published

    verifier = TokenVerifier(fetch, issuer="shop", audience="shop", min_refresh_seconds=0.0)
    await verifier.verify(TokenFactory(SigningKeys([old])).token())
    rotated = TokenFactory(SigningKeys([new, old]))
    published = rotated.keys.jwks()
    await verifier.verify(rotated.token())
    assert fetches == 2

    slow = TokenVerifier(fetch, issuer="shop", audience="shop", min_refresh_seconds=3600)
    await slow.verify(rotated.token())
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await slow.verify(TokenFactory().token())
    assert fetches == 3


async def test_an_unreachable_key_set_is_unavailable_not_unauthenticated() -> None:
    async def fetch() -> dict[str, Any]:
        raise OSError("connection refused")

    verifier = TokenVerifier(fetch, issuer="shop", audience="shop")
    with pytest.raises(Unavailable):
        await verifier.verify(TokenFactory().token())


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer"])
def test_bearer_refuses_headers_without_a_token(header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        bearer(header)


def test_bearer_extracts_the_token() -> None:
    assert bearer("Bearer abc.def.ghi") == "abc.def.ghi"
