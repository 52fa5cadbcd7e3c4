"""Who is calling, and may they use this route: bearer tokens checked before any upstream call.

Verified tokens are cached until they expire (bounded), so a client's repeated calls cost a
dictionary lookup, not a signature check. Failures are never cached.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from shop.auth.tokens import Claims, bearer
from shop.runtime.errors import Forbidden, Unauthenticated


class Verifier(Protocol):
    async def verify(self, token: str) -> Claims: ...


class Authenticator:
    def __init__(
        self,
        verifier: Verifier,
        *,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.verifier = verifier
        self.cache_size = cache_size
        self.clock = clock
        self._cache: dict[str, Claims] = {}

    async def identify(self, authorization: str | None) -> Claims:
        """The caller's claims; `Unauthenticated` for a missing, malformed or invalid token."""
        token = bearer(authorization)
        claims = self._cache.get(token)
        if claims is not None:
            if claims.exp > self.clock():
                return claims
            del self._cache[token]
            raise Unauthenticated("The token has expired.")
        claims = await self.verifier.verify(token)
        if len(self._cache) >= self.cache_size:
            self._evict()
        self._cache[token] = claims
        return claims

    def _evict(self) -> None:
        now = self.clock()
        live = {k: v for k, v in self._cache.items() if v.exp > now}
        if len(live) >= self.cache_size:  # still full: drop the older half (insertion order)
            live = dict(list(live.items())[len(live) // 2 :])
        self._cache = live


def authorize(policy: str, claims: Claims | None) -> None:
    """Raise unless `claims` satisfy the route's policy (public, user or admin)."""
    if policy == "public":
        return
    if claims is None:
        raise Unauthenticated("A bearer token is required.")
    if policy == "admin" and claims.role != "admin":
        raise Forbidden("This operation is for administrators.")
