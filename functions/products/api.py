"""The products function's public HTTP surface: thin handlers over the catalog service."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from functions.products.catalog import CatalogService
from functions.products.model import Product
from shop.auth.bearer import BEARER, require_admin
from shop.auth.tokens import Claims
from shop.money import Money
from shop.runtime.clock import rfc3339
from shop.runtime.pages import DEFAULT_LIMIT, decode_cursor, encode_cursor
from shop.runtime.text import LINE_PATTERN, PARAGRAPH_PATTERN

Catalog = NamedDependency[CatalogService]
Caller = NamedDependency[Claims]
SKU_PATTERN = r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z"
CATEGORY_PATTERN = r"\A[a-z0-9][a-z0-9-]{0,39}\Z"
Sku = Annotated[str, msgspec.Meta(pattern=SKU_PATTERN)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=LINE_PATTERN)]
Description = Annotated[str, msgspec.Meta(max_length=4000, pattern=PARAGRAPH_PATTERN)]
Category = Annotated[str, msgspec.Meta(pattern=CATEGORY_PATTERN)]
ProductId = Annotated[str, PathParameter(min_length=1, max_length=64, pattern=LINE_PATTERN)]
Stock = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]


class NewProduct(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sku: Sku
    name: Name
    category: Category
    price: Money
    description: Description = ""
    stock: Stock = 0


class ProductChanges(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    sku: Sku | msgspec.UnsetType = msgspec.UNSET
    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    category: Category | msgspec.UnsetType = msgspec.UNSET
    price: Money | msgspec.UnsetType = msgspec.UNSET
    stock: Stock | msgspec.UnsetType = msgspec.UNSET


class ProductOut(msgspec.Struct, frozen=True):
    id: str
    sku: str
    name: str
    description: str
    category: str
    price: Money
    stock: int
    created: str
    updated: str

    @classmethod
    def of(cls, p: Product) -> ProductOut:
        return cls(
            p.id,
            p.sku,
            p.name,
            p.description,
            p.category,
            Money(p.price_amount, p.price_currency),
            p.stock,
            rfc3339(p.created_us),
            rfc3339(p.updated_us),
        )


class ProductPage(msgspec.Struct, frozen=True):
    items: list[ProductOut]
    next_cursor: str | None


def columns(data: JSONBody[NewProduct] | ProductChanges) -> dict[str, object]:
    fields = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    price = fields.pop("price", None)
    if isinstance(price, Money):
        fields["price_amount"], fields["price_currency"] = price.amount, price.currency
    return fields


@get("/products", tags=["products"], summary="Browse and search the catalog")
async def browse(
    catalog: Catalog,
    q: Annotated[str | None, QueryParameter(max_length=200, pattern=LINE_PATTERN)] = None,
    category: Annotated[str | None, QueryParameter(max_length=40, pattern=LINE_PATTERN)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, QueryParameter(max_length=400)] = None,
) -> ProductPage:
    found, after = await catalog.page(
        q=q or None, category=category or None, after=decode_cursor(cursor), limit=limit
    )
    following = encode_cursor(after.created, after.id) if after else None
    return ProductPage([ProductOut.of(p) for p in found], following)


@get("/products/{product_id:str}", tags=["products"], summary="One product")
async def show(product_id: ProductId, catalog: Catalog) -> ProductOut:
    return ProductOut.of(await catalog.get(product_id))


@post(
    "/products",
    status_code=201,
    security=BEARER,
    tags=["products"],
    summary="Add a product (admin)",
)
async def create(data: JSONBody[NewProduct], claims: Caller, catalog: Catalog) -> ProductOut:
    require_admin(claims)
    return ProductOut.of(await catalog.create(columns(data)))


@patch(
    "/products/{product_id:str}",
    security=BEARER,
    tags=["products"],
    summary="Change a product (admin)",
)
async def change(
    product_id: ProductId, data: JSONBody[ProductChanges], claims: Caller, catalog: Catalog
) -> ProductOut:
    require_admin(claims)
    return ProductOut.of(await catalog.update(product_id, columns(data)))


@delete(
    "/products/{product_id:str}",
    status_code=204,
    security=BEARER,
    tags=["products"],
    summary="Withdraw",
)
async def withdraw(product_id: ProductId, claims: Caller, catalog: Catalog) -> None:
    require_admin(claims)
    await catalog.delete(product_id)


ROUTES = [browse, show, create, change, withdraw]
