"""The catalog service layer: browse for everyone, writes for admins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from functions.products import store
from functions.products.model import Product, search_text
from shop.db import Database, IntegrityError, Transaction
from shop.runtime.clock import now_us
from shop.runtime.errors import Conflict, NotFound
from shop.runtime.pages import CursorKey


class CatalogService:
    def __init__(self, db: Database, *, clock: Callable[[], int] = now_us) -> None:
        self.db = db
        self.clock = clock

    async def page(
        self, *, q: str | None, category: str | None, after: CursorKey | None, limit: int
    ) -> tuple[list[Product], CursorKey | None]:
        async with self.db.transaction(readonly=True) as tx:
            found = await store.page(tx, q=q, category=category, after=after, limit=limit)
        if len(found) <= limit:
            return found, None
        last = found[limit - 1]
        return found[:limit], CursorKey(last.created_us, last.id)

    async def get(self, product_id: str) -> Product:
        async with self.db.transaction(readonly=True) as tx:
            found = await store.get(tx, product_id)
        if found is None:
            raise NotFound("No such product.")
        return found

    async def create(self, fields: dict[str, Any]) -> Product:
        async with self.db.transaction() as tx:
            return await self.create_in(tx, fields)

    async def create_in(self, tx: Transaction, fields: dict[str, Any]) -> Product:
        now = self.clock()
        item = Product(id=Product.new_id(), created_us=now, updated_us=now, **fields)
        if not await store.insert(tx, item):
            raise Conflict("A product with this sku exists.", extra={"fields": ["sku"]})
        return item

    async def update(self, product_id: str, changes: dict[str, Any]) -> Product:
        """`changes` holds only known column names (the API's struct fields)."""
        try:
            return await self._update(product_id, changes)
        except IntegrityError:  # a racing write took the sku first
            raise Conflict("A product with this sku exists.", extra={"fields": ["sku"]}) from None

    async def _update(self, product_id: str, changes: dict[str, Any]) -> Product:
        async with self.db.transaction() as tx:
            found = await store.get(tx, product_id)
            if found is None:
                raise NotFound("No such product.")
            sku = changes.get("sku", found.sku)
            if sku != found.sku and await store.sku_taken(tx, sku, product_id):
                raise Conflict("A product with this sku exists.", extra={"fields": ["sku"]})
            searchable = None
            if "name" in changes or "description" in changes:
                searchable = search_text(
                    changes.get("name", found.name), changes.get("description", found.description)
                )
            changed = await store.update(tx, product_id, changes, searchable, self.clock())
        assert changed is not None
        return changed

    async def delete(self, product_id: str) -> None:
        async with self.db.transaction() as tx:
            if not await store.delete(tx, product_id, self.clock()):
                raise NotFound("No such product.")
