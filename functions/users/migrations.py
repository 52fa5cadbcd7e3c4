"""The users database, version by version."""

from __future__ import annotations

from shop.db.migrations import Migration
from shop.events import outbox

MIGRATIONS = [
    Migration(
        1,
        "users",
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            email TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('customer', 'admin')),
            created_us BIGINT NOT NULL
        )
        """,
    ),
    outbox.migration(2),
]
