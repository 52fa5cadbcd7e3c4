"""The users function's HTTP surface: thin handlers over the service layer."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from functions.users.model import User
from functions.users.service import UsersService
from shop.auth.bearer import BEARER
from shop.auth.tokens import Claims
from shop.runtime.clock import rfc3339
from shop.runtime.text import LINE_PATTERN, Email

Users = NamedDependency[UsersService]
Caller = NamedDependency[Claims]
Username = Annotated[str, msgspec.Meta(pattern=r"\A[a-z0-9_.-]{3,32}\Z")]
NewPassword = Annotated[str, msgspec.Meta(min_length=12, max_length=1024)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
UserId = Annotated[str, PathParameter(min_length=1, max_length=64, pattern=LINE_PATTERN)]


class Registration(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    username: Username
    email: Email
    password: NewPassword


class Credentials(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=LINE_PATTERN)]
    password: Password


class UserOut(msgspec.Struct, frozen=True):
    id: str
    username: str
    email: str
    role: str
    created: str

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(user.id, user.username, user.email, user.role, rfc3339(user.created_us))


class TokenOut(msgspec.Struct, frozen=True):
    access_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the scheme, not a secret


@post("/users", status_code=201, tags=["users"], summary="Register")
async def register(
    data: JSONBody[Registration], users: Users, request: Request[Any, Any, Any]
) -> UserOut:
    return UserOut.of(
        await users.sign_up(data.username, data.email, data.password, client_of(request))
    )


@post("/auth/token", status_code=200, tags=["users"], summary="Log in: a bearer token")
async def token(
    data: JSONBody[Credentials], users: Users, request: Request[Any, Any, Any]
) -> TokenOut:
    issued = await users.login(data.username, data.password, client_of(request))
    return TokenOut(issued.access_token, issued.expires_in)


@get("/users/me", security=BEARER, tags=["users"], summary="The caller's account")
async def me(claims: Caller, users: Users) -> UserOut:
    return UserOut.of(await users.get(claims.sub, subject=claims.sub, role=claims.role))


@get(
    "/users/{user_id:str}",
    security=BEARER,
    tags=["users"],
    summary="One account (its owner or an admin)",
)
async def user(user_id: UserId, claims: Caller, users: Users) -> UserOut:
    return UserOut.of(await users.get(user_id, subject=claims.sub, role=claims.role))


@get("/.well-known/jwks.json", tags=["users"], summary="The public keys tokens are signed with")
async def jwks(users: Users) -> dict[str, Any]:
    return users.keys.jwks()


def client_of(request: Request[Any, Any, Any]) -> str:
    """The client's address: the hop the gateway appended to X-Forwarded-For, else the peer."""
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if hops:
        return hops[-1]
    return request.client.host if request.client else "unknown"


ROUTES = [register, token, me, user, jwks]
