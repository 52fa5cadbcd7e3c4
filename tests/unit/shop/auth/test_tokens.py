from __future__ import annotations

import time
from typing import Any

import pytest

from functions.users.keys import SigningKeys, generate_pem
from shop.auth.tokens import TokenVerifier, bearer, parse_jwks
from shop.runtime.errors import Unauthenticated, Unavailable
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


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_a_verified_token_is_remembered_until_the_cache_time_and_then_checked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    factory = TokenFactory()
    clock = Clock()
    verifier = verifier_for(factory, cache_seconds=10.0, clock=clock)
    checked = spy_on_checks(verifier, monkeypatch)
    token = factory.token("u-1")
    first = await verifier.verify(token)
    assert await verifier.verify(token) == first
    assert checked == [token]
    clock.now += 10  # the cache time is up at exactly 10 s
    assert await verifier.verify(token) == first
    assert checked == [token, token]


async def test_a_remembered_token_is_never_accepted_past_its_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    factory = TokenFactory()
    clock = Clock()
    verifier = verifier_for(factory, cache_seconds=3600.0, clock=clock)
    checked = spy_on_checks(verifier, monkeypatch)
    token = factory.token(exp=int(clock.now) + 20)
    await verifier.verify(token)
    clock.now += 19
    await verifier.verify(token)
    assert len(checked) == 1
    clock.now += 2  # past exp: checked again (PyJWT's leeway still accepts it for 5 s)
    await verifier.verify(token)
    assert len(checked) == 2


async def test_refused_tokens_are_not_remembered_and_the_cache_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    factory = TokenFactory()
    verifier = verifier_for(factory, cache_size=2)
    checked = spy_on_checks(verifier, monkeypatch)
    forged = factory.forged()
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await verifier.verify(forged)
    assert checked == [forged, forged]
    tokens = [factory.token(f"u-{n}") for n in range(3)]
    for token in tokens:
        await verifier.verify(token)
    await verifier.verify(tokens[0])  # the least recently used one was dropped
    await verifier.verify(tokens[2])  # still remembered
    assert checked[2:] == [*tokens, tokens[0]]


async def test_a_refreshed_key_set_forgets_the_remembered_tokens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = generate_pem(), generate_pem()
    published = SigningKeys([old]).jwks()

    async def fetch() -> dict[str, Any]:
        return published

    verifier = TokenVerifier(fetch, issuer="shop", audience="shop", min_refresh_seconds=0.0)
    checked = spy_on_checks(verifier, monkeypatch)
    token = TokenFactory(SigningKeys([old])).token()
    await verifier.verify(token)
    published = SigningKeys([new]).jwks()  # the old key is withdrawn
    await verifier.verify(TokenFactory(SigningKeys([new])).token())  # unknown kid: refresh
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)
    assert checked[-1] == token


def spy_on_checks(verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens whose signature the verifier really checked, in order."""
    checked: list[str] = []
    check = verifier._check

    async def spy(token: str) -> Any:
        checked.append(token)
        return await check(token)

    monkeypatch.setattr(verifier, "_check", spy)
    return checked


def test_a_key_set_keeps_its_usable_keys_and_skips_malformed_entries() -> None:
    good = SigningKeys([generate_pem()]).jwks()["keys"][0]
    nameless = {k: v for k, v in good.items() if k != "kid"}
    junk = [
        "not-a-key",
        7,
        nameless,
        {**good, "kid": 42},
        {**good, "kid": "other", "alg": "HS256"},
        {**good, "kid": "private", "d": good["x"]},  # a private key is never taken as a public one
    ]

    keys = parse_jwks({"keys": [*junk, good]})

    assert list(keys) == [good["kid"]]
