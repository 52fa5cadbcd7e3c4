"""The products function's settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from shop.auth import service_token
from shop.auth.tokens import TokenSettings
from shop.db.settings import DatabaseSettings
from shop.http.clients import ClientSettings
from shop.runtime.settings import Settings, env_bool, env_float, env_str


@dataclass(frozen=True, slots=True)
class ProductsSettings:
    runtime: Settings
    database: DatabaseSettings
    clients: ClientSettings
    tokens: TokenSettings
    internal_token: str = ""  # the service token (shop.auth.service_token); "": the local one
    reservation_ttl: float = 300.0
    sweep_interval: float = 5.0
    demo_catalog: bool = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ProductsSettings:
        env = os.environ if environ is None else environ
        runtime = Settings.from_environ("products", env)
        ttl = env_float(env, "RESERVATION_TTL_SECONDS", 300.0, low=1.0)
        embedded = not (env_str(env, "DATABASE_URL", "") or env_str(env, "DB_HOST", ""))
        return cls(
            runtime=runtime,
            database=DatabaseSettings.from_environ("products", env, runtime.data_dir),
            clients=ClientSettings.from_environ(env),
            tokens=TokenSettings.from_environ(env),
            internal_token=service_token.configured(env),
            reservation_ttl=ttl,
            sweep_interval=env_float(env, "RESERVATION_SWEEP_SECONDS", min(5.0, ttl / 4), low=0.05),
            # The embedded default is the laptop: seed a demo catalog there unless told not to.
            demo_catalog=env_bool(env, "SHOP_DEMO_CATALOG", embedded),
        )
