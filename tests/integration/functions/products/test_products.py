from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from functions.products.app import create_app
from functions.products.settings import ProductsSettings
from shop.auth import service_token
from tests.support.databases import DIALECTS, database_url
from tests.support.inprocess import jwks_app, serving
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration
SERVICE_TOKEN = "a-service-token-for-tests"


class Catalog:
    def __init__(self, http: httpx.AsyncClient, tokens: TokenFactory) -> None:
        self.http = http
        self.admin = {"Authorization": f"Bearer {tokens.token('admin-1', 'admin')}"}
        self.customer = {"Authorization": f"Bearer {tokens.token('cust-1', 'customer')}"}

    async def add(self, **fields: Any) -> httpx.Response:
        body = {
            "sku": f"S-{uuid.uuid4().hex[:8]}",
            "name": "Thing",
            "category": "misc",
            "price": {"amount": 500, "currency": "EUR"},
            "stock": 10,
            **fields,
        }
        return await self.http.post("/products", json=body, headers=self.admin)

    async def reserve(self, order_id: str, *lines: tuple[str, int]) -> httpx.Response:
        items = [{"product_id": p, "quantity": q} for p, q in lines]
        return await self.http.post(
            "/internal/reservations", json={"order_id": order_id, "items": items}
        )

    async def stock(self, product_id: str) -> int:
        units: int = (await self.http.get(f"/products/{product_id}")).json()["stock"]
        return units


@pytest.fixture(params=DIALECTS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path, "products") as url:
        yield url


@pytest.fixture
async def catalog(db_url: str, tmp_path: Path) -> AsyncIterator[Catalog]:
    tokens = TokenFactory()
    async with contextlib.AsyncExitStack() as stack:
        users = await stack.enter_async_context(serving(jwks_app(tokens)))
        env = {
            "DATABASE_URL": db_url,
            "SHOP_DATA_DIR": str(tmp_path),
            "JWKS_URL": f"{users}/.well-known/jwks.json",
            "INTERNAL_API_TOKEN": SERVICE_TOKEN,
        }
        url = await stack.enter_async_context(
            serving(create_app(ProductsSettings.from_environ(env)))
        )
        # Sent as orders sends it: the stock API answers the shop's services only.
        headers = {service_token.HEADER: SERVICE_TOKEN}
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=url, headers=headers))
        yield Catalog(http, tokens)


async def test_search_is_case_insensitive_over_name_and_description(catalog: Catalog) -> None:
    await catalog.add(name="Blue Élan Mug", description="ceramic")
    await catalog.add(name="Red Cup", description="Holds 100% of your TEA")
    await catalog.add(name="Plate", description="flat")
    found = (await catalog.http.get("/products", params={"q": "élan"})).json()["items"]
    assert [p["name"] for p in found] == ["Blue Élan Mug"]
    found = (await catalog.http.get("/products", params={"q": "tea"})).json()["items"]
    assert [p["name"] for p in found] == ["Red Cup"]
    literal = (await catalog.http.get("/products", params={"q": "100%"})).json()["items"]
    assert [p["name"] for p in literal] == ["Red Cup"]
    assert (await catalog.http.get("/products", params={"q": "_"})).json()["items"] == []


async def test_pages_walk_the_category_newest_first_without_gaps(catalog: Catalog) -> None:
    made = [(await catalog.add(category="pages", name=f"n{i}")).json()["id"] for i in range(7)]
    await catalog.add(category="elsewhere")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"category": "pages", "limit": "3", **({"cursor": cursor} if cursor else {})}
        page = (await catalog.http.get("/products", params=params)).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made[::-1]


BAD_PRODUCTS: list[tuple[dict[str, Any], str]] = [
    ({"price": {"amount": 5, "currency": "euro"}}, "price.currency"),
    ({"price": {"amount": -1, "currency": "EUR"}}, "price.amount"),
    ({"stock": -1}, "stock"),
    ({"category": "Has Space"}, "category"),
    ({"colour": "red"}, "colour"),
    ({"name": ""}, "name"),
]


async def test_bad_products_are_422_problems(catalog: Catalog) -> None:
    for fields, field in BAD_PRODUCTS:
        response = await catalog.add(**fields)
        assert response.status_code == 422, (fields, response.text)
        assert response.json()["errors"][0]["field"] == field


async def test_bad_page_parameters_are_4xx_problems(catalog: Catalog) -> None:
    for query in ["limit=0", "limit=101", "limit=x", "cursor=%%%", "q=" + "x" * 201]:
        response = await catalog.http.get(f"/products?{query}")
        assert response.status_code in (400, 422), query
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_duplicate_sku_is_409_until_the_product_is_withdrawn(catalog: Catalog) -> None:
    first = (await catalog.add(sku="DUP-1")).json()
    assert (await catalog.add(sku="DUP-1")).status_code == 409
    gone = await catalog.http.delete(f"/products/{first['id']}", headers=catalog.admin)
    assert gone.status_code == 204
    assert (await catalog.http.get(f"/products/{first['id']}")).status_code == 404
    assert (
        await catalog.http.delete(f"/products/{first['id']}", headers=catalog.admin)
    ).status_code == 404
    assert (await catalog.add(sku="DUP-1")).status_code == 201


async def test_patch_changes_only_what_it_names(catalog: Catalog) -> None:
    product = (await catalog.add(name="Old", stock=10)).json()
    assert (await catalog.reserve("o-patch", (product["id"], 4))).status_code == 201
    changed = await catalog.http.patch(
        f"/products/{product['id']}", json={"name": "New"}, headers=catalog.admin
    )
    assert changed.status_code == 200
    body = changed.json()
    assert (body["name"], body["stock"], body["sku"]) == ("New", 6, product["sku"])
    assert body["updated"] >= product["updated"]
    found = (await catalog.http.get("/products", params={"q": "new"})).json()["items"]
    assert [p["id"] for p in found] == [product["id"]]
    taken = (await catalog.add()).json()
    clash = await catalog.http.patch(
        f"/products/{product['id']}", json={"sku": taken["sku"]}, headers=catalog.admin
    )
    assert clash.status_code == 409
    unknown = await catalog.http.patch("/products/nope", json={"name": "x"}, headers=catalog.admin)
    assert unknown.status_code == 404


async def test_customers_cannot_write_the_catalog(catalog: Catalog) -> None:
    body = {"sku": "C-1", "name": "x", "category": "c", "price": {"amount": 1, "currency": "EUR"}}
    response = await catalog.http.post("/products", json=body, headers=catalog.customer)
    assert response.status_code == 403
    assert (await catalog.http.post("/products", json=body)).status_code == 401


async def test_reservations_are_all_or_nothing_and_idempotent(catalog: Catalog) -> None:
    a = (await catalog.add(stock=5)).json()["id"]
    b = (await catalog.add(stock=1)).json()["id"]
    short = await catalog.reserve("o-1", (a, 2), (b, 2))
    assert short.status_code == 409
    assert short.json()["short"] == [{"product_id": b, "requested": 2, "available": 1}]
    assert (await catalog.stock(a), await catalog.stock(b)) == (5, 1)
    first, again = await asyncio.gather(
        catalog.reserve("o-2", (a, 2), (b, 1)), catalog.reserve("o-2", (a, 2), (b, 1))
    )
    assert {first.status_code, again.status_code} <= {200, 201}
    assert first.json()["items"] == again.json()["items"]
    assert (await catalog.stock(a), await catalog.stock(b)) == (3, 0)
    other = await catalog.reserve("o-2", (a, 1))
    assert other.status_code == 409


async def test_reservation_steps_happen_once_and_only_in_order(catalog: Catalog) -> None:
    a = (await catalog.add(stock=5)).json()["id"]
    http = catalog.http
    await catalog.reserve("o-3", (a, 2))
    assert (await http.post("/internal/reservations/o-3/confirm")).json()["state"] == "confirmed"
    assert (await http.post("/internal/reservations/o-3/confirm")).status_code == 200
    assert (await http.post("/internal/reservations/o-3/release")).status_code == 409
    returns = await asyncio.gather(
        *(http.post("/internal/reservations/o-3/return") for _ in range(4))
    )
    assert {r.status_code for r in returns} == {200}
    assert await catalog.stock(a) == 5
    await catalog.reserve("o-4", (a, 5))
    assert (await http.post("/internal/reservations/o-4/release")).json()["state"] == "released"
    assert (await http.post("/internal/reservations/o-4/release")).status_code == 200
    assert (await http.post("/internal/reservations/o-4/confirm")).status_code == 409
    assert await catalog.stock(a) == 5
    assert (await http.post("/internal/reservations/none/confirm")).status_code == 404


async def test_confirming_many_reservations_at_once_reports_each_ones_state(
    catalog: Catalog,
) -> None:
    a = (await catalog.add(stock=10)).json()["id"]
    http = catalog.http
    for order_id in ("m-held", "m-confirmed", "m-released"):
        await catalog.reserve(order_id, (a, 2))
    await http.post("/internal/reservations/m-confirmed/confirm")
    await http.post("/internal/reservations/m-released/release")
    ids = ["m-held", "m-confirmed", "m-released", "m-unknown", "m-held"]
    first, again = await asyncio.gather(
        *(http.post("/internal/batch/confirmations", json={"order_ids": ids}) for _ in range(2))
    )
    for answer in (first, again):
        assert answer.status_code == 200
        assert answer.json()["items"] == [
            {"order_id": "m-confirmed", "state": "confirmed"},
            {"order_id": "m-held", "state": "confirmed"},
            {"order_id": "m-released", "state": "released"},
            {"order_id": "m-unknown", "state": None},
        ]
    assert (await http.get("/internal/reservations/m-held")).json()["state"] == "confirmed"
    assert await catalog.stock(a) == 6  # two confirmed reservations of 2; the released one back
    assert (await http.post("/internal/reservations/m-held/release")).status_code == 409
    empty = await http.post("/internal/batch/confirmations", json={"order_ids": []})
    assert empty.status_code == 422


async def test_a_batch_of_reserves_answers_each_as_its_own_call_would(catalog: Catalog) -> None:
    a = (await catalog.add(stock=3)).json()["id"]
    b = (await catalog.add(stock=1)).json()["id"]
    await catalog.reserve("b-again", (a, 1))

    def item(order_id: str, *lines: tuple[str, int]) -> dict[str, Any]:
        return {"order_id": order_id, "items": [{"product_id": p, "quantity": q} for p, q in lines]}

    batch = [
        item("b-ok", (a, 1), (b, 1)),
        item("b-short", (a, 1), (b, 1)),
        item("b-unknown", ("nope", 1)),
        item("b-again", (a, 1)),
        item("b-other", (a, 5)),
    ]
    response = await catalog.http.post("/internal/batch/reservations", json={"items": batch})
    assert response.status_code == 200
    answers = response.json()["items"]
    assert [answer["status"] for answer in answers] == [201, 409, 422, 201, 409]
    assert answers[0]["body"]["state"] == "held"
    assert [line["product_id"] for line in answers[0]["body"]["items"]] == sorted([a, b])
    assert answers[1]["body"]["short"] == [{"product_id": b, "requested": 1, "available": 0}]
    assert answers[2]["body"]["errors"][0]["message"] == "unknown product nope"
    assert answers[3]["body"]["order_id"] == "b-again"  # idempotent: nothing taken twice
    assert "short" in answers[4]["body"]
    assert (await catalog.stock(a), await catalog.stock(b)) == (1, 0)


async def test_the_demo_catalog_is_seeded_once(db_url: str, tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": db_url,
        "SHOP_DEMO_CATALOG": "1",
        "JWKS_URL": "http://127.0.0.1:9/",
        "SHOP_DATA_DIR": str(tmp_path),  # its local service token goes here
    }
    for _ in range(2):
        app = create_app(ProductsSettings.from_environ(env))
        async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
            page = (await http.get("/products", params={"limit": "100"})).json()
    assert len(page["items"]) == 12
    assert len({p["category"] for p in page["items"]}) >= 3


@pytest.mark.parametrize("sent", [None, "a-wrong-token-of-some-length"])
async def test_the_stock_api_refuses_callers_without_the_service_token(
    catalog: Catalog, sent: str | None
) -> None:
    product = (await catalog.add(stock=5)).json()["id"]
    body = {"order_id": "o-x", "items": [{"product_id": product, "quantity": 2}]}
    headers = {service_token.HEADER: sent} if sent is not None else {}
    async with httpx.AsyncClient(base_url=str(catalog.http.base_url), headers=headers) as anyone:
        refused = await anyone.post("/internal/reservations", json=body)
        catalogue = await anyone.get("/products")

    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert catalogue.status_code == 200
    assert await catalog.stock(product) == 5
