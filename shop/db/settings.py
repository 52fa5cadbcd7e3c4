"""Where a service's database is: `DATABASE_URL`, the `DB_*` variables, or a local SQLite file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated
from urllib.parse import quote, urlsplit, urlunsplit

import msgspec

from shop.runtime.schema import Schema, SettingsError, env, parse

EMBEDDED = "sqlite:///$SHOP_DATA_DIR/<service>.db"


class DatabaseSettings(Schema, frozen=True, kw_only=True):
    """`url` is the one the service connects to: `DATABASE_URL` as given, else built from the
    `DB_*` variables when `DB_HOST` is set, else the embedded SQLite file in the data directory."""

    url: Annotated[
        str, env("DATABASE_URL", "The database (postgresql:// or sqlite:///).", default=EMBEDDED)
    ] = ""
    host: Annotated[str, env("DB_HOST", "PostgreSQL's host, when DATABASE_URL is unset.")] = ""
    port: Annotated[int, env("DB_PORT", "PostgreSQL's port.", ge=1, le=65535)] = 5432
    user: Annotated[str, env("DB_USER", "PostgreSQL's user.")] = "postgres"
    password: Annotated[str, env("DB_PASSWORD", "PostgreSQL's password.", secret=True)] = ""
    name: Annotated[str, env("DB_NAME", "The database's name.", default="the service's")] = ""
    pool_size: Annotated[int, env("DB_POOL_SIZE", "Connections per instance.", ge=1)] = 5
    busy_timeout: Annotated[
        float,
        env(
            "DB_BUSY_TIMEOUT_SECONDS",
            "How long a statement waits for a lock before the answer is a 503.",
            ge=0.1,
        ),
    ] = 5.0
    service: str = ""  # the runtime's, for the defaults above
    data_dir: str = ""

    @classmethod
    def from_environ(
        cls, service: str, environ: Mapping[str, str] | None, data_dir: str
    ) -> DatabaseSettings:
        return parse(cls, environ, service=service, data_dir=data_dir)

    def __post_init__(self) -> None:
        msgspec.structs.force_setattr(self, "url", self._resolve())
        if not self.url.startswith(("postgresql://", "postgres://", "sqlite:///")):
            raise SettingsError("DATABASE_URL must start with postgresql:// or sqlite:///")

    def _resolve(self) -> str:
        if self.url:
            return self.url
        if self.host:
            user = quote(self.user, safe="")
            secret = f":{quote(self.password, safe='')}" if self.password else ""
            name = quote(self.name or self.service, safe="")
            return f"postgresql://{user}{secret}@{self.host}:{self.port}/{name}"
        from pathlib import Path

        return f"sqlite:///{(Path(self.data_dir or '.') / f'{self.service}.db').resolve()}"

    @property
    def embedded(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def dialect(self) -> str:
        return "sqlite" if self.url.startswith("sqlite") else "postgresql"

    @property
    def redacted(self) -> str:
        """The URL without its password, for logs."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
