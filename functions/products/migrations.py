"""The products database, version by version."""

from __future__ import annotations

from shop.db.migrations import Migration

MIGRATIONS = [
    Migration(
        1,
        "catalog",
        """
        CREATE TABLE products (
            id TEXT PRIMARY KEY,
            sku TEXT NOT NULL,
            name TEXT NOT NULL,
            description TEXT NOT NULL,
            category TEXT NOT NULL,
            price_amount BIGINT NOT NULL CHECK (price_amount >= 0),
            price_currency TEXT NOT NULL,
            stock BIGINT NOT NULL CHECK (stock >= 0),
            search_text TEXT NOT NULL,
            created_us BIGINT NOT NULL,
            updated_us BIGINT NOT NULL,
            deleted_us BIGINT
        );
        CREATE UNIQUE INDEX products_live_sku ON products (sku) WHERE deleted_us IS NULL;
        CREATE INDEX products_newest ON products (created_us, id) WHERE deleted_us IS NULL;
        CREATE INDEX products_category ON products (category, created_us) WHERE deleted_us IS NULL
        """,
    ),
    Migration(
        2,
        "reservations",
        """
        CREATE TABLE reservations (
            order_id TEXT PRIMARY KEY,
            state TEXT NOT NULL
                CHECK (state IN ('held', 'confirmed', 'released', 'expired', 'returned')),
            expires_us BIGINT NOT NULL,
            created_us BIGINT NOT NULL,
            updated_us BIGINT NOT NULL
        );
        CREATE INDEX reservations_due ON reservations (expires_us) WHERE state = 'held';
        CREATE TABLE reservation_lines (
            order_id TEXT NOT NULL REFERENCES reservations (order_id),
            product_id TEXT NOT NULL REFERENCES products (id),
            quantity INTEGER NOT NULL CHECK (quantity > 0),
            name TEXT NOT NULL,
            price_amount BIGINT NOT NULL,
            price_currency TEXT NOT NULL,
            PRIMARY KEY (order_id, product_id)
        )
        """,
    ),
]
