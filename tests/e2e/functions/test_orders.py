from __future__ import annotations

import asyncio
import uuid

import pytest

from devtools.function_stack import ShopApi

pytestmark = pytest.mark.e2e


async def test_fifty_racing_orders_for_ten_units_sell_exactly_ten(api: ShopApi) -> None:
    admin = await api.admin()
    product = await api.product(admin, stock=10)
    customers = await asyncio.gather(*(api.customer() for _ in range(5)))
    responses = await asyncio.gather(
        *(api.order(customers[i % 5][1], [(product["id"], 1)]) for i in range(50))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 10, [r.text for r in responses if r.status_code not in (201, 409)]
    assert codes.count(409) == 40
    assert await api.stock(product["id"]) == 0
    short = next(r for r in responses if r.status_code == 409).json()
    assert short["short"] == [{"product_id": product["id"], "requested": 1, "available": 0}]


async def test_two_racing_requests_with_one_idempotency_key_make_one_order(api: ShopApi) -> None:
    admin = await api.admin()
    product = await api.product(admin, stock=5)
    _, token = await api.customer()
    key = str(uuid.uuid4())
    first, second = await asyncio.gather(
        api.order(token, [(product["id"], 2)], key), api.order(token, [(product["id"], 2)], key)
    )
    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    assert first.json() == second.json()
    assert await api.stock(product["id"]) == 3
    mine = await api.call("orders", "GET", "/orders", token)
    assert [o["id"] for o in mine.json()["items"]] == [first.json()["id"]]


async def test_an_idempotency_key_reused_with_another_body_is_refused(api: ShopApi) -> None:
    admin = await api.admin()
    product = await api.product(admin, stock=5)
    _, token = await api.customer()
    key = str(uuid.uuid4())
    assert (await api.order(token, [(product["id"], 1)], key)).status_code == 201
    again = await api.order(token, [(product["id"], 2)], key)
    assert again.status_code == 422
    assert again.headers["content-type"].startswith("application/problem+json")
    assert await api.stock(product["id"]) == 4


async def test_two_racing_cancels_return_the_stock_once(api: ShopApi) -> None:
    admin = await api.admin()
    product = await api.product(admin, stock=10)
    _, token = await api.customer()
    placed = await api.order(token, [(product["id"], 4)])
    order_id = placed.json()["id"]
    first, second = await asyncio.gather(
        api.call("orders", "POST", f"/orders/{order_id}/cancel", token),
        api.call("orders", "POST", f"/orders/{order_id}/cancel", admin),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    assert await api.stock(product["id"]) == 10
    shown = await api.call("orders", "GET", f"/orders/{order_id}", token)
    assert shown.json()["status"] == "cancelled"


async def test_an_order_captures_names_and_prices_and_totals_them(api: ShopApi) -> None:
    admin = await api.admin()
    cheap = await api.product(admin, stock=5, amount=250)
    dear = await api.product(admin, stock=5, amount=1999)
    user_id, token = await api.customer()
    placed = await api.order(token, [(dear["id"], 2), (cheap["id"], 3)])
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["user_id"] == user_id
    assert order["status"] == "confirmed"
    assert order["total"] == {"amount": 2 * 1999 + 3 * 250, "currency": "EUR"}
    assert [(i["product_id"], i["quantity"]) for i in order["items"]] == [
        (dear["id"], 2),
        (cheap["id"], 3),
    ]
    await api.call(
        "products",
        "PATCH",
        f"/products/{dear['id']}",
        admin,
        json={"price": {"amount": 1, "currency": "EUR"}},
    )
    again = await api.call("orders", "GET", f"/orders/{order['id']}", token)
    assert again.json()["items"][0]["unit_price"] == {"amount": 1999, "currency": "EUR"}


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([], "items"),
        ([("p", 0)], "quantity"),
        ([("p", 101)], "quantity"),
        ([(f"p{i}", 1) for i in range(51)], "items"),
    ],
)
async def test_bad_orders_are_422_problems(
    api: ShopApi, items: list[tuple[str, int]], field: str
) -> None:
    _, token = await api.customer()
    response = await api.order(token, items)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in str(response.json()["errors"])


async def test_unknown_and_duplicate_products_are_422(api: ShopApi) -> None:
    admin = await api.admin()
    product = await api.product(admin, stock=5)
    _, token = await api.customer()
    unknown = await api.order(token, [(product["id"], 1), ("no-such-product", 1)])
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [
        {"field": "items[1].product_id", "message": "unknown product"}
    ]
    twice = await api.order(token, [(product["id"], 1), (product["id"], 2)])
    assert twice.status_code == 422
    assert await api.stock(product["id"]) == 5


async def test_a_withdrawn_product_no_longer_sells_but_past_orders_keep_it(api: ShopApi) -> None:
    admin = await api.admin()
    product = await api.product(admin, stock=5)
    _, token = await api.customer()
    placed = (await api.order(token, [(product["id"], 1)])).json()
    gone = await api.call("products", "DELETE", f"/products/{product['id']}", admin)
    assert gone.status_code == 204
    assert (await api.order(token, [(product["id"], 1)])).status_code == 422
    kept = await api.call("orders", "GET", f"/orders/{placed['id']}", token)
    assert kept.json()["items"][0]["name"] == product["name"]


async def test_orders_list_newest_first_in_pages(api: ShopApi) -> None:
    admin = await api.admin()
    product = await api.product(admin, stock=10)
    _, token = await api.customer()
    ids = [(await api.order(token, [(product["id"], 1)])).json()["id"] for _ in range(3)]
    first = (await api.call("orders", "GET", "/orders?limit=2", token)).json()
    assert [o["id"] for o in first["items"]] == ids[::-1][:2]
    rest = await api.call("orders", "GET", f"/orders?limit=2&cursor={first['next_cursor']}", token)
    assert [o["id"] for o in rest.json()["items"]] == ids[:1]
    assert rest.json()["next_cursor"] is None
