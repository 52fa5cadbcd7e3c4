"""Throwaway databases for the tests, on the session's PostgreSQL (tests.support.services)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from devtools.databases import throwaway_database, throwaway_postgres
from tests.support.services import postgres_url

if TYPE_CHECKING:
    from shop.db import Database
    from shop.db.migrations import Migration

DIALECTS = ("sqlite", "postgresql")


@contextmanager
def postgres_database(prefix: str = "shop_test") -> Iterator[str]:
    with throwaway_postgres(postgres_url(), prefix) as url:
        yield url


def admin_url_for(dialect: str) -> str:
    """The PostgreSQL admin URL a `FunctionStack` on `dialect` needs ("" for SQLite)."""
    return postgres_url() if dialect == "postgresql" else ""


@contextmanager
def database_url(dialect: str, directory: Path, service: str) -> Iterator[str]:
    """A fresh, empty database for `service` on `dialect`."""
    with throwaway_database(dialect, directory, service, admin_url_for(dialect)) as url:
        yield url


@asynccontextmanager
async def migrated(url: str, migrations: Sequence[Migration]) -> AsyncIterator[Database]:
    """A small pool on `url` with `migrations` applied, closed at the end."""
    from shop.db.attach import open_database
    from shop.db.migrations import migrate

    database = await open_database(url, pool_size=4)
    try:
        await migrate(database, migrations)
        yield database
    finally:
        await database.close()
