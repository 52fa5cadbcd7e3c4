"""The orders function's settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from shop.auth import service_token
from shop.auth.tokens import TokenSettings
from shop.db.settings import DatabaseSettings
from shop.events.outbox_relay import RelaySettings
from shop.http.clients import ClientSettings
from shop.runtime.settings import Settings, env_float


@dataclass(frozen=True, slots=True)
class OrdersSettings:
    runtime: Settings
    database: DatabaseSettings
    clients: ClientSettings
    tokens: TokenSettings
    internal_token: str = ""  # the service token (shop.auth.service_token); "": the local one
    relay: RelaySettings = field(default_factory=RelaySettings)
    idempotency_ttl: float = 86_400.0
    claim_lease: float = 30.0
    sweep_interval: float = 5.0
    pending_grace: float = 30.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> OrdersSettings:
        env = os.environ if environ is None else environ
        runtime = Settings.from_environ("orders", env)
        return cls(
            runtime=runtime,
            database=DatabaseSettings.from_environ("orders", env, runtime.data_dir),
            clients=ClientSettings.from_environ(env),
            tokens=TokenSettings.from_environ(env),
            internal_token=service_token.configured(env),
            relay=RelaySettings.from_environ(env),
            idempotency_ttl=env_float(env, "IDEMPOTENCY_KEY_TTL_SECONDS", 86_400.0, low=86_400.0),
            claim_lease=env_float(env, "IDEMPOTENCY_CLAIM_SECONDS", 30.0, low=1.0),
            sweep_interval=env_float(env, "ORDERS_SWEEP_SECONDS", 5.0, low=0.05),
            pending_grace=env_float(env, "ORDERS_PENDING_GRACE_SECONDS", 30.0, low=0.1),
        )
