"""Throwaway databases for the tests and the benchmarks: a SQLite file, or a uniquely named
PostgreSQL database on a server whose admin URL the caller names."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def _admin(admin_url: str, statement: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(admin_url, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


@contextmanager
def throwaway_postgres(admin_url: str, prefix: str = "shop_test") -> Iterator[str]:
    """A new, empty database on `admin_url`'s server, dropped at the end."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_database(
    dialect: str, directory: Path, service: str, postgres_admin_url: str
) -> Iterator[str]:
    """A fresh, empty database for `service` on `dialect`."""
    if dialect == "sqlite":
        yield f"sqlite:///{directory / f'{service}-{uuid.uuid4().hex[:8]}.db'}"
        return
    with throwaway_postgres(postgres_admin_url, f"shop_test_{service}") as url:
        yield url
