"""The gateway decides on the path Litestar will dispatch, or refuses it (issue 10, item 4)."""

from __future__ import annotations

import urllib.parse

import pytest
from litestar import Litestar, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath
from litestar.utils import normalize_path

from gateway.paths import dispatched_path
from gateway.routing import load
from gateway.settings import GatewaySettings


@post("/auth/token")
async def log_in() -> None: ...


@post("/users")
async def register() -> None: ...


@get("/users/me")
async def me() -> None: ...


@get("/products/{product_id:str}")
async def product(product_id: FromPath[str]) -> None: ...


FUNCTION = Litestar(route_handlers=[log_in, register, me, product])
TABLE = load(GatewaySettings.from_environ({}))

# raw path -> the function's route the request reaches, or None: the gateway refuses it.
PATHS: dict[str, str | None] = {
    "/auth/token": "/auth/token",
    "/auth/token/": "/auth/token",
    "/auth/%74oken": "/auth/token",
    "/%61uth/token": "/auth/token",
    "/users/%6De": "/users/me",
    "/auth//token": None,
    "//auth/token": None,
    "/auth/token//": None,
    "/auth/./token": None,
    "/auth/x/../token": None,
    "/users/me/..": None,
    "/auth/%2e/token": None,
    "/auth/%2E%2E/auth/token": None,
    "/auth%2Ftoken": None,
    "/auth%2ftoken": None,
    "/auth%252Ftoken": None,
    "/auth%5Ctoken": None,
    "/auth\\token": None,
    "/auth/token%00": None,
    "/auth/token%0A": None,
    "/products/a%2F..%2F..%2Fusers%2Fme": None,
}


def _function_route(decoded: str, method: str) -> str | None:
    """What Litestar's router dispatches the decoded path to (its own normalisation)."""
    try:
        _, handler, *_ = FUNCTION.asgi_router.handle_routing(
            path=normalize_path(decoded), method=method
        )
    except NotFoundException:
        return None
    return str(sorted(handler.paths)[0])


@pytest.mark.parametrize(("raw", "expected"), PATHS.items())
def test_the_gateway_routes_on_the_path_the_function_dispatches_or_refuses_it(
    raw: str, expected: str | None
) -> None:
    decoded = urllib.parse.unquote(raw)  # what uvicorn puts in scope["path"], on both sides
    method = "GET" if expected == "/users/me" else "POST"
    if expected is None:
        with pytest.raises(HTTPException) as refused:
            dispatched_path(raw.encode("latin-1"), decoded)
        assert refused.value.status_code == 400
        return
    path = dispatched_path(raw.encode("latin-1"), decoded)
    assert _function_route(decoded, method) == expected
    route = TABLE.match(path)
    assert route is not None
    assert route == TABLE.match(expected)  # the same decision as for the plain path
    if expected == "/auth/token":
        assert route.rate_limit == "auth"
    else:
        assert route.policy(method) == "user"


def test_every_ambiguous_path_would_reach_a_function_route_if_let_through() -> None:
    # The refusals matter: Litestar collapses `//` and would run the login handler.
    assert _function_route("/auth//token", "POST") == "/auth/token"
    assert _function_route("//auth/token", "POST") == "/auth/token"
