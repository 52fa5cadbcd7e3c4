"""Service identity on the functions' internal APIs: a shared token in one request header.

In a cluster the token comes from a Kubernetes Secret (`INTERNAL_API_TOKEN`, or a mounted file
named by `INTERNAL_API_TOKEN_FILE`); locally it is generated once in the data directory, which
every local instance shares. The receiving side compares it in constant time and refuses a
missing or wrong one with 401, so a pod that can reach a function's cluster-local address
still cannot reserve or release stock.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from shop.auth.local_secret import local_secret
from shop.runtime.errors import Unauthenticated
from shop.runtime.settings import SettingsError

HEADER = "X-Internal-Token"
LOCAL_FILE = "internal-api-token"


def configured(env: Mapping[str, str]) -> str:
    """The token the environment names ("" when it names none: the local mode makes one)."""
    token = env.get("INTERNAL_API_TOKEN", "").strip()
    path = env.get("INTERNAL_API_TOKEN_FILE", "").strip()
    if not token and path:
        try:
            token = Path(path).read_text().strip()
        except OSError as exc:
            raise SettingsError(f"INTERNAL_API_TOKEN_FILE cannot be read: {exc}") from exc
    if token and len(token) < 16:
        raise SettingsError("INTERNAL_API_TOKEN must be at least 16 characters")
    return token


def resolve(token: str, data_dir: str) -> str:
    """In the lifespan: the configured token, or the local mode's own."""
    if token:
        return token
    return local_secret(data_dir, LOCAL_FILE, lambda: secrets.token_urlsafe(32).encode()).decode()


def guard(expected: Callable[[], str]) -> Callable[[Any, Any], None]:
    """A Litestar guard: the request must carry the token `expected()` returns."""
    wanted = HEADER.lower()

    def check(connection: Any, _: Any) -> None:
        given = connection.headers.get(wanted, "")
        if not hmac.compare_digest(given.encode(), expected().encode()):
            raise Unauthenticated("This internal API takes calls from the shop's services only.")

    return check
