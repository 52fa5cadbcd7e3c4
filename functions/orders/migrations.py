"""The orders database, version by version."""

from __future__ import annotations

from shop.db.migrations import Migration
from shop.events import outbox

MIGRATIONS = [
    Migration(
        1,
        "orders",
        """
        CREATE TABLE orders (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            email TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'cancelled')),
            total_amount BIGINT NOT NULL,
            currency TEXT NOT NULL,
            stock_returned INTEGER NOT NULL DEFAULT 0,
            created_us BIGINT NOT NULL,
            updated_us BIGINT NOT NULL
        );
        CREATE INDEX orders_by_user ON orders (user_id, created_us, id);
        CREATE INDEX orders_unsettled ON orders (status, updated_us)
            WHERE status = 'pending' OR stock_returned = 0;
        CREATE TABLE order_items (
            order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            product_id TEXT NOT NULL,
            name TEXT NOT NULL,
            unit_amount BIGINT NOT NULL,
            currency TEXT NOT NULL,
            quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 100),
            PRIMARY KEY (order_id, position)
        );
        CREATE TABLE idempotency_keys (
            user_id TEXT NOT NULL,
            key TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            order_id TEXT NOT NULL,
            claimed_until BIGINT,
            created_us BIGINT NOT NULL,
            PRIMARY KEY (user_id, key)
        );
        CREATE INDEX idempotency_keys_age ON idempotency_keys (created_us)
        """,
    ),
    outbox.migration(2),
    Migration(
        3,
        "idempotency keys by order",
        "CREATE INDEX idempotency_keys_order ON idempotency_keys (order_id)",
    ),
]
