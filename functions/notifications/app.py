"""The notifications function's composition root: the only place its adapters are built."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Litestar
from litestar.di import Provide

from functions.notifications.api import ROUTES
from functions.notifications.mailer import Mailer, SmtpMailer
from functions.notifications.metrics import NotificationMetrics
from functions.notifications.migrations import MIGRATIONS
from functions.notifications.service import NotificationsService
from functions.notifications.settings import NotificationsSettings
from shop.auth.bearer import provide_claims
from shop.auth.events import EventAuth, provide_sender
from shop.auth.tokens import TokenVerifier
from shop.db.attach import attach_database
from shop.http.clients import open_clients
from shop.runtime.core import Runtime
from shop.runtime.service import create_service_app
from shop.runtime.wiring import Wired


@dataclass(frozen=True, slots=True)
class Adapters:
    notifications: NotificationsService
    verifier: TokenVerifier
    event_auth: EventAuth


async def bootstrap(
    settings: NotificationsSettings, runtime: Runtime, *, mailer: Mailer | None = None
) -> Adapters:
    db = await attach_database(runtime, settings.database, MIGRATIONS)
    smtp = settings.smtp
    chosen = mailer or (SmtpMailer(smtp) if smtp else None)
    metrics = NotificationMetrics(runtime.metrics.registry)
    clients = await open_clients(runtime, settings.clients, pool=4)
    return Adapters(
        notifications=NotificationsService(db, chosen, metrics=metrics),
        verifier=TokenVerifier(
            clients.jwks, issuer=settings.tokens.issuer, audience=settings.tokens.audience
        ),
        event_auth=EventAuth(settings.events),
    )


def create_app(
    settings: NotificationsSettings | None = None, *, mailer: Mailer | None = None
) -> Litestar:
    config = settings or NotificationsSettings.from_environ()
    wired: Wired[Adapters] = Wired()

    async def start(runtime: Runtime) -> None:
        wired.set(await bootstrap(config, runtime, mailer=mailer))

    return create_service_app(
        config.runtime,
        route_handlers=ROUTES,
        startup=[start],
        dependencies={
            **wired.provide("notifications", "verifier", "event_auth"),
            "claims": Provide(provide_claims),
            "sender": Provide(provide_sender),
        },
    )
