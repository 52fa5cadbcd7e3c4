"""The users function's settings, declared once (shop.runtime.schema) and read once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec

from shop.auth.tokens import TokenSettings
from shop.db.settings import DatabaseSettings
from shop.events.outbox_relay import RelaySettings
from shop.runtime.schema import Schema, SettingsError, env, parse
from shop.runtime.settings import Settings


class UsersSettings(Schema, frozen=True, kw_only=True):
    runtime: Settings
    database: DatabaseSettings
    tokens: TokenSettings
    relay: RelaySettings
    private_key: Annotated[
        str,
        env("JWT_PRIVATE_KEY", "PEM signing key(s), \\n-escaped allowed.", secret=True),
    ] = ""
    private_key_file: Annotated[
        str, env("JWT_PRIVATE_KEY_FILE", "A file holding them, when JWT_PRIVATE_KEY is unset.")
    ] = ""
    token_ttl: Annotated[int, env("JWT_TTL_SECONDS", "How long a token lives.", ge=30)] = 3600
    admin_username: Annotated[
        str | None, env("SHOP_ADMIN_USERNAME", "An admin created at start (with the password).")
    ] = None
    admin_password: Annotated[
        str | None, env("SHOP_ADMIN_PASSWORD", "Its password (>= 12 chars).", secret=True)
    ] = None
    admin_email: Annotated[
        str | None, env("SHOP_ADMIN_EMAIL", "Its email.", default="<user>@localhost.localdomain")
    ] = None
    login_failures_per_user: Annotated[
        int,
        env(
            "LOGIN_FAILURES_PER_USER",
            "Failed logins on an account (from anywhere) before it backs off (no lockout).",
            ge=1,
        ),
    ] = 5
    login_failures_per_pair: Annotated[
        int,
        env("LOGIN_FAILURES_PER_PAIR", "Failed logins from one client on one account.", ge=1),
    ] = 5
    login_failures_per_client: Annotated[
        int, env("LOGIN_FAILURES_PER_CLIENT", "Failed logins per client per window.", ge=1)
    ] = 30
    login_window: Annotated[
        int, env("LOGIN_FAILURE_WINDOW_SECONDS", "The failed-login window.", ge=1)
    ] = 300
    password_hashes_per_client: Annotated[
        int,
        env(
            "PASSWORD_HASHES_PER_CLIENT",
            "Password hashes one client may run or wait for at once, per instance.",
            ge=1,
        ),
    ] = 2
    private_key_pem: bytes | None = None  # from the two variables above

    def __post_init__(self) -> None:
        if (self.admin_username is None) != (self.admin_password is None):
            raise SettingsError("set both SHOP_ADMIN_USERNAME and SHOP_ADMIN_PASSWORD, or neither")
        if self.admin_password is not None and len(self.admin_password) < 12:
            raise SettingsError("SHOP_ADMIN_PASSWORD must be at least 12 characters")
        if self.private_key_pem is None:
            msgspec.structs.force_setattr(self, "private_key_pem", self._private_key())

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> UsersSettings:
        return parse(cls, environ, service="users")

    def _private_key(self) -> bytes | None:
        if self.private_key:
            return self.private_key.replace("\\n", "\n").encode()
        if not self.private_key_file:
            return None
        try:
            return Path(self.private_key_file).read_bytes()
        except OSError as exc:
            raise SettingsError(f"JWT_PRIVATE_KEY_FILE cannot be read: {exc}") from None
