"""Bearer-token verification against a cached JWKS: asymmetric signatures only.

Every function and the gateway verify tokens with this one class: the users service's tokens
(EdDSA, ES256; `verify`) and the event senders' OIDC tokens (`shop.auth.events`, which adds
RS256, the Kubernetes service-account issuer's algorithm, and reads its own claims with
`verify_as`). A key is used only with the algorithm its type implies. The JWKS is fetched lazily,
cached, and fetched again when a token names an unknown `kid` (key rotation), at most once per
`min_refresh_seconds`, so a flood of forged kids cannot hammer the users service.

Verified tokens are remembered briefly (a bounded LRU keyed by the exact token string, each for
at most `cache_seconds` and never past its `exp`), so a client's next requests skip the
signature check; a refreshed key set forgets them all. Refusals are never cached.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import msgspec

from shop.runtime.errors import Unauthenticated, Unavailable
from shop.runtime.schema import Schema, env

ALGORITHMS = frozenset({"EdDSA", "ES256"})
_KEY_TYPES: dict[tuple[object, object], str] = {
    ("OKP", "Ed25519"): "EdDSA",
    ("EC", "P-256"): "ES256",
    ("RSA", None): "RS256",
}
FetchJwks = Callable[[], Awaitable[dict[str, Any]]]
S = TypeVar("S", bound=msgspec.Struct)


class Claims(msgspec.Struct, frozen=True):
    sub: str
    role: str
    iss: str
    aud: str
    exp: int
    iat: int
    email: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def bearer(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        raise Unauthenticated("A bearer token is required.")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
    return token.strip()


class TokenVerifier:
    def __init__(
        self,
        fetch_jwks: FetchJwks,
        *,
        issuer: str,
        audience: str,
        min_refresh_seconds: float = 30.0,
        leeway_seconds: float = 5.0,
        cache_seconds: float = 30.0,
        cache_size: int = 1024,
        clock: Callable[[], float] = time.time,
        algorithms: frozenset[str] = ALGORITHMS,
    ) -> None:
        self.algorithms = algorithms
        self._fetch = fetch_jwks
        self.issuer = issuer
        self.audience = audience
        self.min_refresh = min_refresh_seconds
        self.leeway = leeway_seconds
        self._keys: dict[str, tuple[str, Any]] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self._clock = clock
        self._verified: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    async def verify(self, token: str) -> Claims:
        """The token's claims; `Unauthenticated` if it is not valid, `Unavailable` while no key
        set could ever be fetched."""
        return await self.verify_as(token, Claims)

    async def verify_as(self, token: str, kind: type[S]) -> S:
        """The token's claims read as `kind` (a Struct with the claims it needs)."""
        remembered = self._verified.get(token)
        if remembered is not None:
            if self._clock() < remembered[0] and isinstance(remembered[1], kind):
                self._verified.move_to_end(token)
                return remembered[1]
            del self._verified[token]
        payload = await self._check(token)
        try:
            claims = msgspec.convert(payload, kind)
        except msgspec.ValidationError:
            raise Unauthenticated("The token's claims are incomplete.") from None
        now = self._clock()
        until = min(now + self.cache_seconds, float(payload["exp"]))
        if until > now and self.cache_size > 0:
            self._verified[token] = (until, claims)
            if len(self._verified) > self.cache_size:
                self._verified.popitem(last=False)
        return claims

    async def _check(self, token: str) -> dict[str, Any]:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("The token is malformed.") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.algorithms:
            raise Unauthenticated("The token's signing algorithm is not accepted.")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("The token names no key.")
        found = await self._key(kid)
        if found is None or found[0] != alg:
            raise Unauthenticated("The token was not signed by a known key.")
        try:
            payload = jwt.decode(
                token,
                found[1],
                algorithms=[found[0]],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The token has expired.") from None
        except jwt.PyJWTError:
            raise Unauthenticated("The token is invalid.") from None
        if not isinstance(payload.get("exp"), int):
            raise Unauthenticated("The token's claims are incomplete.")
        return payload

    async def _key(self, kid: str) -> tuple[str, Any] | None:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at >= self.min_refresh:
                await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        try:
            jwks = await self._fetch()
        except Exception as exc:
            if not self._keys:
                raise Unavailable("The signing keys cannot be fetched right now.") from exc
            return
        self._fetched_at = time.monotonic()
        self._keys = parse_jwks(jwks)
        self._verified.clear()  # a key may have been withdrawn: check every token again


def parse_jwks(jwks: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """kid -> (algorithm, public key) for the usable signing keys of a JWKS; others are skipped."""
    import jwt

    keys: dict[str, tuple[str, Any]] = {}
    for item in jwks.get("keys", []):
        if not isinstance(item, dict) or not isinstance(item.get("kid"), str):
            continue
        alg = _KEY_TYPES.get((item.get("kty"), item.get("crv")))
        if alg is None or item.get("alg", alg) != alg or "d" in item:
            continue
        try:
            keys[item["kid"]] = (alg, jwt.PyJWK(item, algorithm=alg).key)
        except jwt.PyJWTError:
            continue
    return keys


class TokenSettings(Schema, frozen=True, kw_only=True):
    """What every verifier checks and the users service signs."""

    issuer: Annotated[str, env("JWT_ISSUER", "The issuer (iss) of the shop's tokens.")] = "shop"
    audience: Annotated[str, env("JWT_AUDIENCE", "The audience (aud) of the shop's tokens.")] = (
        "shop"
    )
