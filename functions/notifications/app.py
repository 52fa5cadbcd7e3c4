"""The notifications function's composition root: the only place its adapters are built."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide

from functions.notifications.api import ROUTES
from functions.notifications.mailer import Mailer, SmtpMailer
from functions.notifications.metrics import NotificationMetrics
from functions.notifications.migrations import MIGRATIONS
from functions.notifications.service import NotificationsService
from functions.notifications.settings import NotificationsSettings
from shop.auth.bearer import provide_claims
from shop.auth.tokens import TokenVerifier
from shop.db import attach_database
from shop.http.clients import open_clients
from shop.runtime.core import Runtime
from shop.runtime.service import create_service_app


class Wiring:
    """What the lifespan builds and the handlers use."""

    notifications: NotificationsService
    verifier: TokenVerifier


def create_app(
    settings: NotificationsSettings | None = None, *, mailer: Mailer | None = None
) -> Litestar:
    settings = settings or NotificationsSettings.from_environ()
    wiring = Wiring()

    async def start(runtime: Runtime) -> None:
        db = await attach_database(runtime, settings.database, MIGRATIONS)
        chosen = mailer or (SmtpMailer(settings.smtp) if settings.smtp else None)
        metrics = NotificationMetrics(runtime.metrics.registry)
        wiring.notifications = NotificationsService(db, chosen, metrics=metrics)
        clients = await open_clients(runtime, settings.clients, pool=4)
        wiring.verifier = TokenVerifier(
            clients.jwks, issuer=settings.tokens.issuer, audience=settings.tokens.audience
        )

    return create_service_app(
        settings.runtime,
        route_handlers=ROUTES,
        startup=[start],
        dependencies={
            "notifications": Provide(lambda: wiring.notifications, sync_to_thread=False),
            "verifier": Provide(lambda: wiring.verifier, sync_to_thread=False),
            "claims": Provide(provide_claims),
        },
    )
