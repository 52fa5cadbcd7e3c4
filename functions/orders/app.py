"""The orders function's composition root: the only place its adapters are built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from litestar import Litestar
from litestar.di import Provide

from functions.orders.api import ROUTES, Caller
from functions.orders.migrations import MIGRATIONS
from functions.orders.recovery import Recovery
from functions.orders.service import Fault, OrderService, no_fault
from functions.orders.settings import OrdersSettings
from functions.orders.stock import ProductsStock
from shop.auth.bearer import openapi_config, provide_claims
from shop.auth.tokens import TokenVerifier
from shop.db.attach import attach_database
from shop.events.outbox_relay import OutboxRelay
from shop.http.clients import open_clients
from shop.runtime.core import Runtime
from shop.runtime.service import create_service_app
from shop.runtime.wiring import Wired


@dataclass(frozen=True, slots=True)
class Adapters:
    orders: OrderService
    verifier: TokenVerifier
    recovery: Recovery


async def bootstrap(
    settings: OrdersSettings, runtime: Runtime, relay: OutboxRelay, *, fault: Fault = no_fault
) -> Adapters:
    db = await relay.attach(runtime, await attach_database(runtime, settings.database, MIGRATIONS))
    clients = await open_clients(runtime, settings.clients)
    token = settings.internal.resolve(settings.runtime.data_dir)
    orders = OrderService(
        db, ProductsStock(clients, token), claim_lease=settings.claim_lease, fault=fault
    )
    recovery = Recovery(orders, grace=settings.pending_grace, key_ttl=settings.idempotency_ttl)
    runtime.background("order-recovery", lambda: recovery.forever(settings.sweep_interval))
    verifier = TokenVerifier(
        clients.jwks, issuer=settings.tokens.issuer, audience=settings.tokens.audience
    )
    return Adapters(orders=orders, verifier=verifier, recovery=recovery)


def _after_claims(wired: Wired[Adapters]) -> Callable[..., OrderService]:
    """The order service, resolved after the caller's claims (every orders route has both):
    Litestar resolves a handler's independent dependencies concurrently, in an anyio task
    group (~150 µs a request here); chained, they resolve one after the other."""

    def orders(claims: Caller) -> OrderService:
        return wired.get().orders

    return orders


def create_app(settings: OrdersSettings | None = None, *, fault: Fault = no_fault) -> Litestar:
    """`fault` is the tests' hook for crashing between the steps of placing an order."""
    config = settings or OrdersSettings.from_environ()
    wired: Wired[Adapters] = Wired()
    relay = OutboxRelay(config.relay)

    async def start(runtime: Runtime) -> None:
        wired.set(await bootstrap(config, runtime, relay, fault=fault))

    return create_service_app(
        config.runtime,
        route_handlers=[*ROUTES, *relay.routes],
        startup=[start],
        openapi_config=openapi_config(config.runtime.service, config.runtime.version),
        dependencies={
            **wired.provide("verifier"),
            "claims": Provide(provide_claims),
            "orders": Provide(_after_claims(wired), sync_to_thread=False),
            **relay.dependencies,
        },
    )
