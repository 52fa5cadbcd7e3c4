"""Attacks on the functions' event sinks, called directly (as any pod that reaches them could):
forged, misdirected, expired and foreign event tokens get 401 and change nothing; a sender no
policy names gets 403; dead letters (customers' e-mail addresses) are the admin's only."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from functions.notifications.app import create_app
from functions.notifications.settings import NotificationsSettings
from shop.events.ce import to_binary, to_structured
from tests.support.event_senders import ORDERS_PING, TRIGGER, Senders
from tests.support.events import confirmed, jwks_server
from tests.support.recorder import Recorder
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration
TOKENS = TokenFactory()
# Made at import, used up to a whole suite later: valid for a day, not the default 10 minutes.
DAY = int(time.time()) + 86_400
ADMIN = {"authorization": f"Bearer {TOKENS.token('admin', 'admin', exp=DAY)}"}
CUSTOMER = {"authorization": f"Bearer {TOKENS.token('u1', exp=DAY)}"}
Client = AsyncTestClient[Litestar]


@pytest.fixture
def senders(tmp_path: Path) -> Senders:
    return Senders(tmp_path)


@pytest.fixture
def jwks() -> Iterator[Recorder]:
    with jwks_server(TOKENS) as server:
        yield server


async def _client(tmp_path: Path, jwks: Recorder, extra: dict[str, str]) -> Client:
    env = {"SHOP_DATA_DIR": str(tmp_path), "JWKS_URL": jwks.url, **extra}
    return AsyncTestClient(create_app(NotificationsSettings.from_environ(env)))


@pytest.fixture
async def client(tmp_path: Path, jwks: Recorder, senders: Senders) -> AsyncIterator[Client]:
    async with await _client(tmp_path, jwks, senders.env("notifications")) as test_client:
        yield test_client


async def _stored(client: Client) -> tuple[list[object], list[object]]:
    inbox = (await client.get("/notifications", headers=CUSTOMER)).json()["items"]
    letters = (await client.get("/dead-letters?replayed=true", headers=ADMIN)).json()["items"]
    return inbox, letters


@pytest.mark.parametrize("path", ["/events", "/dead-letters"])
@pytest.mark.parametrize(
    "attack",
    [
        "no token",
        "not a bearer",
        "another audience",
        "expired",
        "foreign issuer key",
        "foreign issuer name",
        "garbage",
    ],
)
async def test_an_event_without_a_valid_sender_token_is_401_and_stores_nothing(
    client: Client, senders: Senders, path: str, attack: str
) -> None:
    headers, body = to_binary(confirmed(user_id="u1"))
    forged = senders.attacks("notifications", TRIGGER)[attack]
    response = await client.post(path, content=body, headers={**headers, **forged})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await _stored(client) == ([], [])


async def test_a_users_token_even_the_admins_is_no_event_sender_token(client: Client) -> None:
    headers, body = to_binary(confirmed(user_id="u1"))
    response = await client.post("/events", content=body, headers={**headers, **ADMIN})
    assert response.status_code == 401
    assert await _stored(client) == ([], [])


async def test_a_valid_token_from_a_sender_no_trigger_names_is_403_and_stores_nothing(
    client: Client, senders: Senders
) -> None:
    headers, body = to_structured(confirmed(user_id="u1"))
    stranger = senders.headers("notifications", sub=ORDERS_PING)
    response = await client.post("/events", content=body, headers={**headers, **stranger})
    assert response.status_code == 403
    assert await _stored(client) == ([], [])


async def test_a_properly_minted_trigger_token_is_accepted(
    client: Client, senders: Senders
) -> None:
    headers, body = to_binary(confirmed(user_id="u1"))
    response = await client.post("/events", content=body, headers={**headers, **senders.headers()})
    assert response.status_code == 202
    inbox, _ = await _stored(client)
    assert len(inbox) == 1


async def test_with_no_issuer_configured_every_event_is_refused(
    tmp_path: Path, jwks: Recorder, senders: Senders
) -> None:
    async with await _client(tmp_path, jwks, {}) as client:
        headers, body = to_binary(confirmed(user_id="u1"))
        response = await client.post(
            "/events", content=body, headers={**headers, **senders.headers()}
        )
        assert response.status_code == 401
        assert await _stored(client) == ([], [])


@pytest.mark.parametrize(
    ("who", "status"), [({}, 401), (CUSTOMER, 403), ({"authorization": "Bearer x.y.z"}, 401)]
)
async def test_dead_letters_are_read_and_marked_by_the_admin_only(
    client: Client, senders: Senders, who: dict[str, str], status: int
) -> None:
    headers, body = to_binary(confirmed(user_id="u1"))
    kept = await client.post(
        "/dead-letters", content=body, headers={**headers, **senders.headers()}
    )
    assert kept.status_code == 202
    assert (await client.get("/dead-letters", headers=who)).status_code == status
    (letter,) = (await client.get("/dead-letters", headers=ADMIN)).json()["items"]
    marked = await client.post("/dead-letters/replayed", json={"ids": [letter["id"]]}, headers=who)
    assert marked.status_code == status
    assert (await client.get("/dead-letters", headers=ADMIN)).json()["items"] == [letter]


async def test_an_event_token_does_not_read_dead_letters(client: Client, senders: Senders) -> None:
    response = await client.get("/dead-letters", headers=senders.headers())
    assert response.status_code == 401
