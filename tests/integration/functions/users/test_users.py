from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from functions.users.app import create_app
from functions.users.keys import generate_pem
from functions.users.passwords import Passwords
from functions.users.settings import UsersSettings
from shop.auth.tokens import TokenVerifier
from shop.db.attach import open_database
from tests.support.databases import DIALECTS, database_url
from tests.support.inprocess import serving

pytestmark = pytest.mark.integration
PASSWORD = "a long enough password"


@pytest.fixture(params=DIALECTS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path, "users") as url:
        yield url


def settings_for(db_url: str, tmp_path: Path, **env: str) -> UsersSettings:
    return UsersSettings.from_environ(
        {
            "DATABASE_URL": db_url,
            "SHOP_DATA_DIR": str(tmp_path),
            "SHOP_ADMIN_USERNAME": "root",
            "SHOP_ADMIN_PASSWORD": "root password 123",
            "LOGIN_FAILURES_PER_USER": "3",
            **env,
        }
    )


@pytest.fixture
async def client(db_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_for(db_url, tmp_path))
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


async def register(client: httpx.AsyncClient, name: str, **fields: Any) -> httpx.Response:
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD, **fields}
    return await client.post("/users", json=body)


async def rows(db_url: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    db = await open_database(db_url)
    try:
        async with db.transaction(readonly=True) as tx:
            return [dict(row) for row in await tx.fetch(sql, *args)]
    finally:
        await db.close()


async def test_registration_returns_the_user_without_any_secret(
    client: httpx.AsyncClient, db_url: str
) -> None:
    response = await register(client, "alice", email="Alice@Example.com")
    assert response.status_code == 201
    user = response.json()
    assert set(user) == {"id", "username", "email", "role", "created"}
    assert (user["username"], user["email"], user["role"]) == (
        "alice",
        "alice@example.com",
        "customer",
    )
    stored = await rows(db_url, "SELECT password_hash FROM users WHERE id = $1", user["id"])
    assert stored[0]["password_hash"].startswith("$argon2id$")
    events = await rows(
        db_url, "SELECT type, source, subject, data FROM outbox WHERE subject = $1", user["id"]
    )
    assert [(e["type"], e["source"]) for e in events] == [("shop.user.registered.v1", "/users")]
    assert '"username":"alice"' in events[0]["data"]


BAD_REGISTRATIONS: list[tuple[dict[str, Any], str]] = [
    ({"username": "Al"}, "username"),
    ({"username": "has space"}, "username"),
    ({"username": "x" * 33}, "username"),
    ({"email": "not-an-address"}, "email"),
    ({"password": "short"}, "password"),
    ({"admin": True}, "admin"),
    ({"password": 123456789012}, "password"),
    ({"password": "aaaaaaaaaaaa"}, "password"),
    ({"password": "password1234"}, "password"),
    ({"password": "shop!!2026!!!"}, "password"),
]


async def test_bad_registrations_are_422_problems(client: httpx.AsyncClient) -> None:
    for fields, field in BAD_REGISTRATIONS:
        response = await register(client, "bob", **fields)
        assert response.status_code == 422, (fields, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_malformed_json_is_a_400_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/users", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_taken_username_or_email_is_409(client: httpx.AsyncClient) -> None:
    assert (await register(client, "carol")).status_code == 201
    again = await register(client, "carol", email="other@example.com")
    assert again.status_code == 409
    assert again.json()["fields"] == ["username"]
    same_mail = await register(client, "carol2", email="carol@example.com")
    assert same_mail.json()["fields"] == ["email"]


async def test_racing_registrations_of_one_name_make_one_account(
    db_url: str, tmp_path: Path
) -> None:
    app = create_app(settings_for(db_url, tmp_path, PASSWORD_HASHES_PER_CLIENT="5"))
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        results = await asyncio.gather(*(register(client, "dave") for _ in range(5)))
    assert sorted(r.status_code for r in results) == [201, 409, 409, 409, 409]


async def test_login_issues_a_verifiable_token_with_all_claims(client: httpx.AsyncClient) -> None:
    user = (await register(client, "erin")).json()
    response = await client.post("/auth/token", json={"username": "erin", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    jwks = (await client.get("/.well-known/jwks.json")).json()

    async def fetch() -> dict[str, Any]:
        return dict(jwks)

    claims = await TokenVerifier(fetch, issuer="shop", audience="shop").verify(body["access_token"])
    assert (claims.sub, claims.role, claims.email) == (user["id"], "customer", "erin@example.com")
    me = await client.get("/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == user


async def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "frank")
    wrong = await client.post("/auth/token", json={"username": "frank", "password": "nope"})
    unknown = await client.post("/auth/token", json={"username": "nobody", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.headers["www-authenticate"] == "Bearer"


async def test_repeated_failed_logins_for_one_username_are_refused_with_429(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "grace")
    for _ in range(3):
        bad = await client.post("/auth/token", json={"username": "grace", "password": "wrong"})
        assert bad.status_code == 401
    refused = await client.post("/auth/token", json={"username": "grace", "password": PASSWORD})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    other = await client.post("/auth/token", json={"username": "nobody-else", "password": "x"})
    assert other.status_code == 401  # the per-username limit is per username


async def test_a_hash_with_old_parameters_is_upgraded_on_login(db_url: str, tmp_path: Path) -> None:
    weak = Passwords(time_cost=1, memory_kib=8192)
    weak_app = create_app(settings_for(db_url, tmp_path), passwords=weak)
    async with serving(weak_app) as url, httpx.AsyncClient(base_url=url) as http:
        await register(http, "heidi")
    before = (await rows(db_url, "SELECT password_hash FROM users WHERE username = $1", "heidi"))[0]
    assert "m=8192,t=1" in before["password_hash"]
    strong_app = create_app(settings_for(db_url, tmp_path))
    async with serving(strong_app) as url, httpx.AsyncClient(base_url=url) as http:
        login = await http.post("/auth/token", json={"username": "heidi", "password": PASSWORD})
        assert login.status_code == 200
    after = (await rows(db_url, "SELECT password_hash FROM users WHERE username = $1", "heidi"))[0]
    assert "m=19456,t=2" in after["password_hash"]


async def test_instances_starting_together_bootstrap_one_admin(db_url: str, tmp_path: Path) -> None:
    apps = [create_app(settings_for(db_url, tmp_path)) for _ in range(3)]
    async with contextlib.AsyncExitStack() as stack:
        # all three lifespans (migrations, then the bootstrap) run at the same time
        urls = await asyncio.gather(*(stack.enter_async_context(serving(app)) for app in apps))
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=urls[0]))
        login = await http.post(
            "/auth/token", json={"username": "root", "password": "root password 123"}
        )
        token = login.json()["access_token"]
        me = await http.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "admin"
    assert len(await rows(db_url, "SELECT id FROM users WHERE role = $1", "admin")) == 1


async def test_every_configured_key_is_published_and_the_first_signs(
    db_url: str, tmp_path: Path
) -> None:
    keys = (generate_pem() + generate_pem()).decode()
    app = create_app(settings_for(db_url, tmp_path, JWT_PRIVATE_KEY=keys))
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
        published = (await http.get("/.well-known/jwks.json")).json()["keys"]
        await register(http, "ivan")
        token = (
            await http.post("/auth/token", json={"username": "ivan", "password": PASSWORD})
        ).json()
    import jwt

    assert len(published) == 2
    assert {k["alg"] for k in published} == {"EdDSA"}
    assert jwt.get_unverified_header(token["access_token"])["kid"] == published[0]["kid"]


async def test_an_oversized_body_is_413_and_a_wrong_media_type_is_4xx(
    client: httpx.AsyncClient,
) -> None:
    huge = b'{"username": "' + b"x" * 2_000_000 + b'"}'
    response = await client.post(
        "/users", content=huge, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    form = await client.post("/users", data={"username": "x"})
    assert 400 <= form.status_code < 500
