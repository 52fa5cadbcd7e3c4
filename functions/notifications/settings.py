"""The notifications function's settings, declared once (shop.runtime.schema) and read once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from functions.notifications.mailer import SmtpSettings
from shop.auth.events import EventAuthSettings
from shop.auth.tokens import TokenSettings
from shop.db.settings import DatabaseSettings
from shop.http.clients import ClientSettings
from shop.runtime.schema import Schema, env, parse
from shop.runtime.settings import Settings


class NotificationsSettings(Schema, frozen=True, kw_only=True):
    runtime: Settings
    database: DatabaseSettings
    clients: ClientSettings
    tokens: TokenSettings
    events: EventAuthSettings
    smtp_url: Annotated[
        str,
        env("SMTP_URL", "smtp[s]://user:pass@host:port[?starttls=true]; unset: no email sent."),
    ] = ""
    smtp_from: Annotated[str, env("SMTP_FROM", "The sender of emails.")] = (
        "shop <noreply@shop.localhost>"
    )
    smtp_ca_file: Annotated[
        str | None, env("SMTP_CA_FILE", "A CA bundle to verify the SMTP server with.")
    ] = None

    def __post_init__(self) -> None:
        self.smtp  # noqa: B018 - a bad SMTP_URL is refused at start

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> NotificationsSettings:
        return parse(cls, environ, service="notifications")

    @property
    def smtp(self) -> SmtpSettings | None:
        if not self.smtp_url:
            return None
        return SmtpSettings.from_url(self.smtp_url, self.smtp_from, ca_file=self.smtp_ca_file)
