"""The products function's settings, declared once (shop.runtime.schema) and read once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from shop.auth.service_token import ServiceTokenSettings
from shop.auth.tokens import TokenSettings
from shop.db.settings import DatabaseSettings
from shop.http.clients import ClientSettings
from shop.runtime.schema import Schema, env, parse
from shop.runtime.settings import Settings


class ProductsSettings(Schema, frozen=True, kw_only=True):
    runtime: Settings
    database: DatabaseSettings
    clients: ClientSettings
    tokens: TokenSettings
    internal: ServiceTokenSettings
    reservation_ttl: Annotated[
        float, env("RESERVATION_TTL_SECONDS", "How long a stock reservation holds.", ge=1)
    ] = 300.0
    sweep_seconds: Annotated[
        float | None,
        env(
            "RESERVATION_SWEEP_SECONDS",
            "How often expired reservations are released.",
            ge=0.05,
            default="min(5, RESERVATION_TTL_SECONDS / 4)",
        ),
    ] = None
    demo: Annotated[
        bool | None,
        env(
            "SHOP_DEMO_CATALOG",
            "Seed a demo catalog into an empty database.",
            default="true on the embedded database",
        ),
    ] = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ProductsSettings:
        return parse(cls, environ, service="products")

    @property
    def sweep_interval(self) -> float:
        return self.sweep_seconds or min(5.0, self.reservation_ttl / 4)

    @property
    def demo_catalog(self) -> bool:
        # The embedded default is the laptop: seed a demo catalog there unless told not to.
        return self.database.embedded if self.demo is None else self.demo
