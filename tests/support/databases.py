"""Throwaway databases for the tests: a SQLite file, or a uniquely named PostgreSQL database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from tests.support.services import postgres_url

if TYPE_CHECKING:
    from shop.db import Database
    from shop.db.migrations import Migration

DIALECTS = ("sqlite", "postgresql")


def _admin(statement: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(postgres_url(), timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


@contextmanager
def postgres_database(prefix: str = "shop_test") -> Iterator[str]:
    admin = postgres_url()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database_url(dialect: str, directory: Path, service: str) -> Iterator[str]:
    """A fresh, empty database for `service` on `dialect`."""
    if dialect == "sqlite":
        yield f"sqlite:///{directory / f'{service}-{uuid.uuid4().hex[:8]}.db'}"
        return
    with postgres_database(f"shop_test_{service}") as url:
        yield url


@asynccontextmanager
async def migrated(url: str, migrations: Sequence[Migration]) -> AsyncIterator[Database]:
    """A small pool on `url` with `migrations` applied, closed at the end."""
    from shop.db import open_database
    from shop.db.migrations import migrate

    database = await open_database(url, pool_size=4)
    try:
        await migrate(database, migrations)
        yield database
    finally:
        await database.close()
