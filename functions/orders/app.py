"""The orders function's composition root: the only place its adapters are built."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide

from functions.orders.api import ROUTES
from functions.orders.migrations import MIGRATIONS
from functions.orders.recovery import Recovery
from functions.orders.service import Fault, OrderService, no_fault
from functions.orders.settings import OrdersSettings
from functions.orders.stock import ProductsStock
from shop.auth import service_token
from shop.auth.bearer import openapi_config, provide_claims
from shop.auth.tokens import TokenVerifier
from shop.db import attach_database
from shop.events.outbox_relay import OutboxRelay
from shop.http.clients import open_clients
from shop.runtime.core import Runtime
from shop.runtime.service import create_service_app


class Wiring:
    orders: OrderService
    verifier: TokenVerifier
    recovery: Recovery


def create_app(settings: OrdersSettings | None = None, *, fault: Fault = no_fault) -> Litestar:
    """`fault` is the tests' hook for crashing between the steps of placing an order."""
    settings = settings or OrdersSettings.from_environ()
    wiring = Wiring()
    relay = OutboxRelay(settings.relay)

    async def start(runtime: Runtime) -> None:
        db = await relay.attach(
            runtime, await attach_database(runtime, settings.database, MIGRATIONS)
        )
        clients = await open_clients(runtime, settings.clients)
        wiring.verifier = TokenVerifier(
            clients.jwks, issuer=settings.tokens.issuer, audience=settings.tokens.audience
        )
        wiring.orders = OrderService(
            db,
            ProductsStock(
                clients, service_token.resolve(settings.internal_token, settings.runtime.data_dir)
            ),
            claim_lease=settings.claim_lease,
            fault=fault,
        )
        wiring.recovery = Recovery(
            wiring.orders, grace=settings.pending_grace, key_ttl=settings.idempotency_ttl
        )
        recovery = wiring.recovery
        runtime.background("order-recovery", lambda: recovery.forever(settings.sweep_interval))

    return create_service_app(
        settings.runtime,
        route_handlers=[*ROUTES, *relay.routes],
        startup=[start],
        openapi_config=openapi_config(settings.runtime.service, settings.runtime.version),
        dependencies={
            "orders": Provide(lambda: wiring.orders, sync_to_thread=False),
            "verifier": Provide(lambda: wiring.verifier, sync_to_thread=False),
            "claims": Provide(provide_claims),
            **relay.dependencies,
        },
    )
