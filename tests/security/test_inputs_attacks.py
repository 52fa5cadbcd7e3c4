"""Issue 10, items 7 and 8 and the input "also"s: the hostile inputs that made the functions
answer 500 with a traceback, store header-breaking names and addresses, or take wrong types and
wrong media types as JSON. Each is now a clear 4xx problem+json on both databases, and no table
changes. The four functions run for real (uvicorn, real SQLite or PostgreSQL, real SMTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from shop.db.attach import open_database
from tests.support.databases import DIALECTS
from tests.support.function_apps import ADMIN, FunctionApps, function_apps, function_databases

pytestmark = pytest.mark.integration
# [9223372036854775808, "x"]: a created time one past the largest signed 64-bit integer.
HUGE_CURSOR = "WzkyMjMzNzIwMzY4NTQ3NzU4MDgsIngiXQ"
DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000
JSON = {"content-type": "application/json"}
GOOD_PASSWORD = "a long enough password"


def registration(**fields: Any) -> dict[str, Any]:
    return {
        "username": "mallory",
        "email": "mallory@example.com",
        "password": GOOD_PASSWORD,
        **fields,
    }


def product(**fields: Any) -> dict[str, Any]:
    body = {"sku": "EVIL-1", "name": "Evil", "category": "misc"}
    return {**body, "price": {"amount": 100, "currency": "EUR"}, **fields}


# (who calls: None, "customer" or "admin"; service; method; path; request keywords; status)
ATTACKS: list[tuple[str | None, str, str, str, dict[str, Any], int]] = [
    # item 7: a cursor holding a number >= 2**63, on every list
    (None, "products", "GET", f"/products?cursor={HUGE_CURSOR}", {}, 422),
    ("customer", "orders", "GET", f"/orders?cursor={HUGE_CURSOR}", {}, 422),
    ("customer", "notifications", "GET", f"/notifications?cursor={HUGE_CURSOR}", {}, 422),
    # item 7: JSON nested 1000 deep (2 kB)
    (None, "users", "POST", "/users", {"content": DEEP_ARRAY, "headers": JSON}, 400),
    (None, "users", "POST", "/users", {"content": DEEP_OBJECT, "headers": JSON}, 400),
    (None, "users", "POST", "/auth/token", {"content": DEEP_OBJECT, "headers": JSON}, 400),
    ("customer", "orders", "POST", "/orders", {"content": DEEP_OBJECT, "headers": JSON}, 400),
    (
        "customer",
        "orders",
        "POST",
        "/orders",
        {"content": '{"items": ' + DEEP_ARRAY + "}", "headers": JSON},
        400,
    ),
    # item 7: NUL in any text (PostgreSQL cannot store or compare it)
    (None, "products", "GET", "/products?q=%00", {}, 422),
    (None, "products", "GET", "/products?category=%00", {}, 422),
    (None, "products", "GET", "/products/%00", {}, 422),
    ("customer", "orders", "GET", "/orders/%00", {}, 422),
    ("customer", "orders", "POST", "/orders/%00/cancel", {}, 422),
    ("customer", "users", "GET", "/users/%00", {}, 422),
    ("admin", "products", "POST", "/products", {"json": product(name="a\x00b")}, 422),
    ("admin", "products", "POST", "/products", {"json": product(description="a\x00b")}, 422),
    ("admin", "products", "POST", "/products", {"json": product(category="misc\x00")}, 422),
    ("admin", "products", "PATCH", "/products/%00", {"json": {"name": "x"}}, 422),
    ("admin", "products", "DELETE", "/products/%00", {}, 422),
    (None, "users", "POST", "/users", {"json": registration(email="mal\x00lory@example.com")}, 422),
    (
        None,
        "users",
        "POST",
        "/auth/token",
        {"json": {"username": "ro\x00ot", "password": "x"}},
        422,
    ),
    (
        "customer",
        "orders",
        "POST",
        "/orders",
        {"json": {"items": [{"product_id": "p\x00", "quantity": 1}]}},
        422,
    ),
    # items 7 and 8: CR or LF in what reaches an e-mail header; a second recipient
    (None, "users", "POST", "/users", {"json": registration(username="admin\n")}, 422),
    (None, "users", "POST", "/users", {"json": registration(username="admin\r\nBcc: x")}, 422),
    (None, "users", "POST", "/users", {"json": registration(email="bob@example.com\n")}, 422),
    (None, "users", "POST", "/users", {"json": registration(email="a@b.cc,root")}, 422),
    (None, "users", "POST", "/users", {"json": registration(email="Bob <bob@example.com>")}, 422),
    ("admin", "products", "POST", "/products", {"json": product(name="Mug\r\nBcc: x")}, 422),
    (
        "admin",
        "products",
        "POST",
        "/products",
        {"json": product(price={"amount": 1, "currency": "EUR\n"})},
        422,
    ),
    # also: wrong types and wrong media types are not JSON
    (
        "customer",
        "orders",
        "POST",
        "/orders",
        {"json": {"items": [{"product_id": "p-1", "quantity": "1"}]}},
        422,
    ),
    ("admin", "products", "POST", "/products", {"json": product(stock="5")}, 422),
    (
        None,
        "users",
        "POST",
        "/auth/token",
        {
            "content": f'{{"username": "{ADMIN[0]}", "password": "{ADMIN[1]}"}}',
            "headers": {"content-type": "text/plain"},
        },
        415,
    ),
    (
        None,
        "users",
        "POST",
        "/users",
        {
            "content": '{"username": "x"}',
            "headers": {"content-type": "application/x-www-form-urlencoded"},
        },
        415,
    ),
    (None, "users", "POST", "/users", {"content": '{"username": "x"}'}, 415),
]


@pytest.fixture(params=DIALECTS)
def databases(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    with function_databases(request.param, tmp_path) as found:
        yield request.param, found


@pytest.fixture
async def shop(
    databases: tuple[str, dict[str, str]], tmp_path: Path
) -> AsyncIterator[FunctionApps]:
    dialect, urls = databases
    async with function_apps(dialect, urls, tmp_path) as apps:
        yield apps


async def snapshot(apps: FunctionApps) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of every function."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for service, url in apps.databases.items():
        database = await open_database(url)
        try:
            async with database.transaction(readonly=True) as tx:
                if database.dialect == "sqlite":
                    sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
                else:
                    sql = "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
                for table in sorted(row["name"] for row in await tx.fetch(sql)):
                    found = await tx.fetch(f'SELECT * FROM "{table}"')  # noqa: S608 - own names
                    rows[f"{service}.{table}"] = sorted((dict(row) for row in found), key=repr)
        finally:
            await database.close()
    return rows


async def test_hostile_inputs_are_4xx_problems_and_change_nothing(shop: FunctionApps) -> None:
    tokens = {"customer": await shop.customer(), "admin": await shop.login(*ADMIN)}
    before = await snapshot(shop)
    answers = []
    for caller, service, method, path, request, status in ATTACKS:
        token = tokens[caller] if caller else None
        response = await shop.call(service, method, path, token, **request)
        answers.append(
            (
                service,
                method,
                path,
                response.status_code,
                response.headers.get("content-type", "").split(";")[0],
            )
        )
        assert response.status_code == status, (service, method, path, request, response.text)
        assert response.json()["status"] == status
    assert {answer[4] for answer in answers} == {"application/problem+json"}
    assert await snapshot(shop) == before


async def test_head_is_answered_like_get_without_a_body(shop: FunctionApps) -> None:
    for service, path in [("products", "/products"), ("users", "/.well-known/jwks.json")]:
        got = await shop.call(service, "GET", path)
        head = await shop.call(service, "HEAD", path)
        assert head.status_code == got.status_code == 200
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["content-length"] == got.headers["content-length"]
    assert (await shop.call("products", "HEAD", "/products/%00")).status_code == 422
    assert (await shop.call("orders", "HEAD", "/orders")).status_code == 401
