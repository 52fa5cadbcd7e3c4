"""The demo catalog `shop up` starts with: a dozen products in a few categories."""

from __future__ import annotations

from functions.products import store
from functions.products.catalog import CatalogService
from shop.db import Database

LOCK = 0x73686F70_64656D6F  # "shopdemo"
EUR = "EUR"
DEMO = [
    ("BOOK-001", "The Pragmatic Programmer", "books", 4200, 25, "Twentieth anniversary edition."),
    ("BOOK-002", "Designing Data-Intensive Applications", "books", 4800, 18, "Kleppmann."),
    ("BOOK-003", "Architecture Patterns with Python", "books", 3900, 12, "Cosmic Python."),
    ("BOOK-004", "Site Reliability Engineering", "books", 4500, 10, "How Google runs production."),
    ("MUG-001", "Serverless Mug", "kitchen", 1200, 40, "Scales to zero coffee."),
    ("MUG-002", "Knative Espresso Cup", "kitchen", 900, 30, "Small, fast, cold-starts hot."),
    ("TEE-001", "Python T-shirt", "apparel", 2200, 50, "Organic cotton, unisex."),
    ("TEE-002", "Cloud Native Hoodie", "apparel", 4900, 20, "Warm when the cluster is not."),
    ("CAP-001", "Gopher-free Cap", "apparel", 1800, 15, "Adjustable strap."),
    ("DESK-001", "Mechanical Keyboard", "desk", 11900, 8, "Tactile switches, USB-C."),
    ("DESK-002", "Rubber Duck", "desk", 500, 100, "The best debugger money can buy."),
    ("DESK-003", "Monitor Light Bar", "desk", 5900, 6, "No glare, less eye strain."),
]


async def seed(db: Database, catalog: CatalogService) -> int:
    """Add the demo products once, on a database that has never held a product."""
    async with db.transaction() as tx:
        await tx.lock(LOCK)
        if await store.count(tx) > 0:
            return 0
        for sku, name, category, amount, units, description in DEMO:
            await catalog.create_in(
                tx,
                {
                    "sku": sku,
                    "name": name,
                    "description": description,
                    "category": category,
                    "price_amount": amount,
                    "price_currency": EUR,
                    "stock": units,
                },
            )
    return len(DEMO)
