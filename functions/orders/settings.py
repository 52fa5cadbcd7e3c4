"""The orders function's settings, declared once (shop.runtime.schema) and read once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from shop.auth.service_token import ServiceTokenSettings
from shop.auth.tokens import TokenSettings
from shop.db.settings import DatabaseSettings
from shop.events.outbox_relay import RelaySettings
from shop.http.clients import ClientSettings
from shop.runtime.schema import Schema, env, parse
from shop.runtime.settings import Settings


class OrdersSettings(Schema, frozen=True, kw_only=True):
    runtime: Settings
    database: DatabaseSettings
    clients: ClientSettings
    tokens: TokenSettings
    internal: ServiceTokenSettings
    relay: RelaySettings
    idempotency_ttl: Annotated[
        float,
        env("IDEMPOTENCY_KEY_TTL_SECONDS", "How long an Idempotency-Key is kept.", ge=86_400),
    ] = 86_400.0
    claim_lease: Annotated[
        float,
        env(
            "IDEMPOTENCY_CLAIM_SECONDS",
            "A key's claim lease: its first request renews it while at work; a claim not"
            " renewed for this long (a dead or hung instance) is taken over.",
            ge=1,
        ),
    ] = 3.0
    sweep_interval: Annotated[
        float, env("ORDERS_SWEEP_SECONDS", "How often pending orders are recovered.", ge=0.05)
    ] = 5.0
    pending_grace: Annotated[
        float,
        env("ORDERS_PENDING_GRACE_SECONDS", "How old a pending order is before recovery.", ge=0.1),
    ] = 30.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> OrdersSettings:
        return parse(cls, environ, service="orders")
