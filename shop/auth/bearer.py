"""Bearer authentication as a Litestar dependency: every function verifies tokens itself."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.openapi import OpenAPIConfig

from shop.auth.tokens import Claims, TokenVerifier, bearer
from shop.runtime.errors import Forbidden

BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
"""A handler's `security=`: it needs a bearer token (shown as such in the OpenAPI document)."""


def openapi_config(service: str, version: str) -> OpenAPIConfig:
    """A function's OpenAPI document, with the bearer scheme its secured routes name."""
    from litestar.openapi import OpenAPIConfig
    from litestar.openapi.spec import Components, SecurityScheme

    scheme = SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
    return OpenAPIConfig(
        title=f"shop {service}",
        version=version,
        components=Components(security_schemes={"bearer": scheme}),
    )


async def provide_claims(
    request: Request[Any, Any, Any], verifier: NamedDependency[TokenVerifier]
) -> Claims:
    """The caller's verified claims (a `claims: Claims` handler parameter); 401 otherwise."""
    return await verifier.verify(bearer(request.headers.get("authorization")))


def require_admin(claims: Claims) -> None:
    if not claims.is_admin:
        raise Forbidden("This needs the admin role.")
