"""Bearer authentication as a Litestar dependency: every function verifies tokens itself."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from shop.errors import Forbidden
from shop.tokens import Claims, TokenVerifier, bearer


async def provide_claims(
    request: Request[Any, Any, Any], verifier: NamedDependency[TokenVerifier]
) -> Claims:
    """The caller's verified claims (a `claims: Claims` handler parameter); 401 otherwise."""
    return await verifier.verify(bearer(request.headers.get("authorization")))


def require_admin(claims: Claims) -> None:
    if not claims.is_admin:
        raise Forbidden("This needs the admin role.")
