"""Service identity on the functions' internal APIs: a shared token in one request header.

In a cluster the token comes from a Kubernetes Secret (`ServiceTokenSettings`); locally it is
generated once in the data directory, which every local instance shares. The receiving side
compares it in constant time and refuses a missing or wrong one with 401, so a pod that can
reach a function's cluster-local address still cannot reserve or release stock.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import msgspec

from shop.auth.local_secret import local_secret
from shop.runtime.errors import Unauthenticated
from shop.runtime.schema import Schema, SettingsError, env

HEADER = "X-Internal-Token"
LOCAL_FILE = "internal-api-token"


class ServiceTokenSettings(Schema, frozen=True, kw_only=True):
    """`token` is the configured one ("" when none is: the local mode makes one)."""

    token: Annotated[
        str, env("INTERNAL_API_TOKEN", "The services' shared token (>= 16 chars).", secret=True)
    ] = ""
    token_file: Annotated[
        str, env("INTERNAL_API_TOKEN_FILE", "A file holding it, when INTERNAL_API_TOKEN is unset.")
    ] = ""

    def __post_init__(self) -> None:
        token = self.token
        if not token and self.token_file:
            try:
                token = Path(self.token_file).read_text().strip()
            except OSError as exc:
                raise SettingsError(f"INTERNAL_API_TOKEN_FILE cannot be read: {exc}") from exc
        if token and len(token) < 16:
            raise SettingsError("INTERNAL_API_TOKEN must be at least 16 characters")
        msgspec.structs.force_setattr(self, "token", token)

    def resolve(self, data_dir: str) -> str:
        """In the lifespan: the configured token, or the local mode's own."""
        return resolve(self.token, data_dir)


def resolve(token: str, data_dir: str) -> str:
    """In the lifespan: the configured token, or the local mode's own."""
    if token:
        return token
    return local_secret(data_dir, LOCAL_FILE, lambda: secrets.token_urlsafe(32).encode()).decode()


def guard(expected: Callable[[], str]) -> Callable[[Any, Any], Coroutine[Any, Any, None]]:
    """A Litestar guard: the request must carry the token `expected()` returns. A coroutine
    function: Litestar runs a plain function guard in a worker thread, a thread hop per call."""
    wanted = HEADER.lower()

    async def check(connection: Any, _: Any) -> None:
        given = connection.headers.get(wanted, "")
        if not hmac.compare_digest(given.encode(), expected().encode()):
            raise Unauthenticated("This internal API takes calls from the shop's services only.")

    return check
