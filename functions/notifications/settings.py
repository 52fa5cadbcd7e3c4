"""The notifications function's settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from functions.notifications.mailer import SmtpSettings
from shop.auth.tokens import TokenSettings
from shop.db.settings import DatabaseSettings
from shop.http.clients import ClientSettings
from shop.runtime.settings import Settings, env_str


@dataclass(frozen=True, slots=True)
class NotificationsSettings:
    runtime: Settings
    database: DatabaseSettings
    clients: ClientSettings
    tokens: TokenSettings
    smtp: SmtpSettings | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> NotificationsSettings:
        env = os.environ if environ is None else environ
        runtime = Settings.from_environ("notifications", env)
        smtp_url = env_str(env, "SMTP_URL", "")
        sender = env_str(env, "SMTP_FROM", "shop <noreply@shop.localhost>")
        return cls(
            runtime=runtime,
            database=DatabaseSettings.from_environ("notifications", env, runtime.data_dir),
            clients=ClientSettings.from_environ(env),
            tokens=TokenSettings.from_environ(env),
            smtp=SmtpSettings.from_url(
                smtp_url, sender, ca_file=env_str(env, "SMTP_CA_FILE", "") or None
            )
            if smtp_url
            else None,
        )
