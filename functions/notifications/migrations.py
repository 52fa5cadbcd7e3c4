"""The notifications function's schema. Times are integer microseconds since the epoch."""

from __future__ import annotations

from shop.db.migrations import Migration

MIGRATIONS = [
    Migration(
        1,
        "notifications",
        """
        CREATE TABLE notifications (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            email TEXT NOT NULL,
            channels TEXT NOT NULL,
            event_source TEXT NOT NULL,
            event_id TEXT NOT NULL,
            created_us BIGINT NOT NULL,
            email_status TEXT NOT NULL,
            email_claimed_until_us BIGINT,
            email_sent_us BIGINT,
            CONSTRAINT notifications_event_once UNIQUE (event_source, event_id)
        );
        CREATE INDEX notifications_inbox ON notifications (user_id, created_us DESC, id DESC)
        """,
    ),
    Migration(
        2,
        "dead_letters",
        """
        CREATE TABLE dead_letters (
            id TEXT PRIMARY KEY,
            event_source TEXT NOT NULL,
            event_id TEXT NOT NULL,
            event_type TEXT NOT NULL,
            event TEXT NOT NULL,
            error_code TEXT,
            error_dest TEXT,
            error_data TEXT,
            received_us BIGINT NOT NULL,
            times INTEGER NOT NULL DEFAULT 1,
            replayed_us BIGINT,
            CONSTRAINT dead_letters_event_once UNIQUE (event_source, event_id)
        );
        CREATE INDEX dead_letters_recent ON dead_letters (received_us DESC, id DESC)
        """,
    ),
]
