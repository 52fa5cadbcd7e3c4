"""The users function's settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shop.auth.tokens import TokenSettings
from shop.db.settings import DatabaseSettings
from shop.events.outbox_relay import RelaySettings
from shop.http.clients import ClientSettings
from shop.runtime.settings import Settings, SettingsError, env_int, env_str


@dataclass(frozen=True, slots=True)
class UsersSettings:
    runtime: Settings
    database: DatabaseSettings
    clients: ClientSettings
    tokens: TokenSettings
    relay: RelaySettings = field(default_factory=RelaySettings)
    private_key_pem: bytes | None = None
    token_ttl: int = 3600
    admin_username: str | None = None
    admin_password: str | None = None
    admin_email: str | None = None
    login_failures_per_user: int = 5  # from anywhere: the account backs off (not a lockout)
    login_failures_per_pair: int = 5  # from one client on one account
    login_failures_per_client: int = 30
    login_window: int = 300
    password_hashes_per_client: int = 2  # hashing or waiting at once, per instance

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> UsersSettings:
        env = os.environ if environ is None else environ
        runtime = Settings.from_environ("users", env)
        username = env_str(env, "SHOP_ADMIN_USERNAME", "") or None
        password = env_str(env, "SHOP_ADMIN_PASSWORD", "") or None
        if (username is None) != (password is None):
            raise SettingsError("set both SHOP_ADMIN_USERNAME and SHOP_ADMIN_PASSWORD, or neither")
        if password is not None and len(password) < 12:
            raise SettingsError("SHOP_ADMIN_PASSWORD must be at least 12 characters")
        return cls(
            runtime=runtime,
            database=DatabaseSettings.from_environ("users", env, runtime.data_dir),
            clients=ClientSettings.from_environ(env),
            tokens=TokenSettings.from_environ(env),
            relay=RelaySettings.from_environ(env),
            private_key_pem=_private_key(env),
            token_ttl=env_int(env, "JWT_TTL_SECONDS", 3600, low=30),
            admin_username=username,
            admin_password=password,
            admin_email=env_str(env, "SHOP_ADMIN_EMAIL", "") or None,
            login_failures_per_user=env_int(env, "LOGIN_FAILURES_PER_USER", 5, low=1),
            login_failures_per_pair=env_int(env, "LOGIN_FAILURES_PER_PAIR", 5, low=1),
            login_failures_per_client=env_int(env, "LOGIN_FAILURES_PER_CLIENT", 30, low=1),
            login_window=env_int(env, "LOGIN_FAILURE_WINDOW_SECONDS", 300, low=1),
            password_hashes_per_client=env_int(env, "PASSWORD_HASHES_PER_CLIENT", 2, low=1),
        )


def _private_key(env: Mapping[str, str]) -> bytes | None:
    inline = env_str(env, "JWT_PRIVATE_KEY", "")
    if inline:
        return inline.replace("\\n", "\n").encode()
    path = env_str(env, "JWT_PRIVATE_KEY_FILE", "")
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SettingsError(f"JWT_PRIVATE_KEY_FILE cannot be read: {exc}") from None
