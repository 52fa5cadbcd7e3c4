"""A tiny migration runner: versioned SQL per service, applied once, under a lock.

Two instances starting together serialise on the lock (PostgreSQL: a transaction-scoped advisory
lock; SQLite: `BEGIN IMMEDIATE`), so each version is applied exactly once, all or nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from shop.db import Database

log = logging.getLogger("shop.db")
LOCK_KEY = 0x73686F70_6D696772  # "shopmigr"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        return [part.strip() for part in self.sql.split(";") if part.strip()]


async def migrate(database: Database, migrations: Sequence[Migration]) -> list[int]:
    """Apply the pending migrations in version order; the versions applied now."""
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError("migration versions must be unique and ascending")
    applied: list[int] = []
    async with database.transaction() as tx:
        await tx.lock(LOCK_KEY)
        await tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
        )
        done = {row["version"] for row in await tx.fetch("SELECT version FROM schema_migrations")}
        for migration in migrations:
            if migration.version in done:
                continue
            for statement in migration.statements():
                await tx.execute(statement)
            await tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                int(time.time()),
            )
            applied.append(migration.version)
    if applied:
        log.info("migrations applied", extra={"versions": applied})
    return applied
