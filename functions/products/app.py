"""The products function's composition root: the only place its adapters are built."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from litestar import Litestar
from litestar.di import Provide

from functions.products.api import ROUTES
from functions.products.catalog import CatalogService
from functions.products.demo import seed
from functions.products.internal import internal_router
from functions.products.migrations import MIGRATIONS
from functions.products.settings import ProductsSettings
from functions.products.stock import StockService
from shop.auth import service_token
from shop.auth.bearer import openapi_config, provide_claims
from shop.auth.tokens import TokenVerifier
from shop.db import attach_database
from shop.http.clients import open_clients
from shop.runtime.core import Runtime
from shop.runtime.service import create_service_app

log = logging.getLogger("shop.products")


class Wiring:
    catalog: CatalogService
    stock: StockService
    verifier: TokenVerifier
    internal_token: str


def create_app(settings: ProductsSettings | None = None) -> Litestar:
    settings = settings or ProductsSettings.from_environ()
    wiring = Wiring()

    async def start(runtime: Runtime) -> None:
        wiring.internal_token = service_token.resolve(
            settings.internal_token, settings.runtime.data_dir
        )
        db = await attach_database(runtime, settings.database, MIGRATIONS)
        clients = await open_clients(runtime, settings.clients)
        wiring.verifier = TokenVerifier(
            clients.jwks, issuer=settings.tokens.issuer, audience=settings.tokens.audience
        )
        wiring.catalog = CatalogService(db)
        wiring.stock = StockService(db, ttl_seconds=settings.reservation_ttl)
        if settings.demo_catalog and await seed(db, wiring.catalog):
            log.info("demo catalog seeded")
        sweeper = asyncio.create_task(expire_forever(wiring.stock, settings.sweep_interval))

        async def stop_sweeper() -> None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

        runtime.on_close(stop_sweeper)

    return create_service_app(
        settings.runtime,
        route_handlers=[*ROUTES, internal_router(lambda: wiring.internal_token)],
        startup=[start],
        openapi_config=openapi_config(settings.runtime.service, settings.runtime.version),
        dependencies={
            "catalog": Provide(lambda: wiring.catalog, sync_to_thread=False),
            "reservations": Provide(lambda: wiring.stock, sync_to_thread=False),
            "verifier": Provide(lambda: wiring.verifier, sync_to_thread=False),
            "claims": Provide(provide_claims),
        },
    )


async def expire_forever(stock: StockService, interval: float) -> None:
    """Give expired reservations' units back, on every instance (the updates are conditional)."""
    while True:  # at start-up first; while at zero, the next write or read expires them
        try:
            expired = await stock.expire_due()
        except Exception:
            log.warning("reservation sweep failed", exc_info=True)
            expired = 0
        if expired:
            log.info("reservations expired", extra={"count": expired})
        await asyncio.sleep(interval)
