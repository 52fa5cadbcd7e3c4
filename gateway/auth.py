"""Who is calling, and may they use this route: bearer tokens checked before any upstream call.

The one cache of verified tokens is `shop.auth.tokens.TokenVerifier`'s: it forgets every token
when the key set is fetched again, so a token signed with a withdrawn key is refused from then
on. The gateway keeps none of its own.
"""

from __future__ import annotations

from typing import Protocol

from shop.auth.tokens import Claims, bearer
from shop.runtime.errors import Forbidden, Unauthenticated


class Verifier(Protocol):
    async def verify(self, token: str) -> Claims: ...


class Authenticator:
    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier

    async def identify(self, authorization: str | None) -> Claims:
        """The caller's claims; `Unauthenticated` for a missing, malformed or invalid token."""
        return await self.verifier.verify(bearer(authorization))


def authorize(policy: str, claims: Claims | None) -> None:
    """Raise unless `claims` satisfy the route's policy (public, user or admin)."""
    if policy == "public":
        return
    if claims is None:
        raise Unauthenticated("A bearer token is required.")
    if policy == "admin" and claims.role != "admin":
        raise Forbidden("This operation is for administrators.")
