"""Where a service's database is: `DATABASE_URL`, the `DB_*` variables, or a local SQLite file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from shop.runtime.settings import SettingsError, env_int, env_str


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str
    pool_size: int = 5

    @classmethod
    def from_environ(
        cls, service: str, environ: Mapping[str, str], data_dir: str
    ) -> DatabaseSettings:
        url = env_str(environ, "DATABASE_URL", "")
        host = env_str(environ, "DB_HOST", "")
        if not url and host:
            user = quote(env_str(environ, "DB_USER", "postgres"), safe="")
            password = env_str(environ, "DB_PASSWORD", "")
            secret = f":{quote(password, safe='')}" if password else ""
            port = env_int(environ, "DB_PORT", 5432, low=1)
            name = quote(env_str(environ, "DB_NAME", service), safe="")
            url = f"postgresql://{user}{secret}@{host}:{port}/{name}"
        if not url:
            url = f"sqlite:///{(Path(data_dir) / f'{service}.db').resolve()}"
        if not url.startswith(("postgresql://", "postgres://", "sqlite:///")):
            raise SettingsError("DATABASE_URL must start with postgresql:// or sqlite:///")
        return cls(url=url, pool_size=env_int(environ, "DB_POOL_SIZE", 5, low=1))

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
