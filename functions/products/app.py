"""The products function's composition root: the only place its adapters are built."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from litestar import Litestar
from litestar.di import Provide

from functions.products.api import ROUTES
from functions.products.catalog import CatalogService
from functions.products.demo import seed
from functions.products.internal import internal_router
from functions.products.migrations import MIGRATIONS
from functions.products.settings import ProductsSettings
from functions.products.stock import StockService
from shop.auth.bearer import openapi_config, provide_claims
from shop.auth.tokens import TokenVerifier
from shop.db.attach import attach_database
from shop.http.clients import open_clients
from shop.runtime.core import Runtime
from shop.runtime.errors import Unavailable
from shop.runtime.service import create_service_app
from shop.runtime.wiring import Wired

log = logging.getLogger("shop.products")


@dataclass(frozen=True, slots=True)
class Adapters:
    catalog: CatalogService
    reservations: StockService
    verifier: TokenVerifier
    internal_token: str


async def bootstrap(settings: ProductsSettings, runtime: Runtime) -> Adapters:
    internal_token = settings.internal.resolve(settings.runtime.data_dir)
    db = await attach_database(runtime, settings.database, MIGRATIONS)
    clients = await open_clients(runtime, settings.clients)
    catalog = CatalogService(db)
    stock = StockService(db, ttl_seconds=settings.reservation_ttl)
    if settings.demo_catalog and await seed(db, catalog):
        log.info("demo catalog seeded")
    runtime.background("reservation-sweep", lambda: expire_forever(stock, settings.sweep_interval))
    verifier = TokenVerifier(
        clients.jwks, issuer=settings.tokens.issuer, audience=settings.tokens.audience
    )
    return Adapters(catalog, stock, verifier, internal_token)


def create_app(settings: ProductsSettings | None = None) -> Litestar:
    config = settings or ProductsSettings.from_environ()
    wired: Wired[Adapters] = Wired()

    async def start(runtime: Runtime) -> None:
        wired.set(await bootstrap(config, runtime))

    return create_service_app(
        config.runtime,
        route_handlers=[*ROUTES, internal_router(lambda: wired.get().internal_token)],
        startup=[start],
        openapi_config=openapi_config(config.runtime.service, config.runtime.version),
        dependencies={
            **wired.provide("catalog", "reservations", "verifier"),
            "claims": Provide(provide_claims),
        },
    )


async def expire_forever(stock: StockService, interval: float) -> None:
    """Give expired reservations' units back, on every instance (the updates are conditional)."""
    while True:  # at start-up first; while at zero, the next write or read expires them
        try:
            expired = await stock.expire_due()
        except Unavailable:
            continue  # the database is down: it logs that once, not every sweep
        except Exception:
            log.warning("reservation sweep failed", exc_info=True)
            expired = 0
        if expired:
            log.info("reservations expired", extra={"count": expired})
        await asyncio.sleep(interval)
