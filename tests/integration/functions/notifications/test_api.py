"""The notifications app in-process: real SQLite, a real SMTP server, real JWKS over HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from functions.notifications.app import create_app
from functions.notifications.settings import NotificationsSettings
from shop.events.ce import new_event, to_binary, to_structured
from tests.support.event_senders import Senders
from tests.support.events import confirmed, jwks_server
from tests.support.recorder import Recorder
from tests.support.smtp import SmtpSink
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.integration
TOKENS = TokenFactory()
Client = AsyncTestClient[Litestar]
# Made at import, used up to a whole suite later: valid for a day, not the default 10 minutes.
DAY = int(time.time()) + 86_400
ADMIN = {"authorization": f"Bearer {TOKENS.token('admin', 'admin', exp=DAY)}"}


@pytest.fixture
def jwks() -> Iterator[Recorder]:
    with jwks_server(TOKENS) as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def senders(tmp_path: Path) -> Senders:
    return Senders(tmp_path)


@pytest.fixture
async def client(
    tmp_path: Path, jwks: Recorder, smtp: SmtpSink, senders: Senders
) -> AsyncIterator[Client]:
    env = {"SHOP_DATA_DIR": str(tmp_path), "JWKS_URL": jwks.url, "SMTP_URL": smtp.url}
    settings = NotificationsSettings.from_environ({**env, **senders.env("notifications")})
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


async def test_events_in_either_mode_are_handled_once_with_an_empty_202(
    client: Client,
    senders: Senders,
    smtp: SmtpSink,
) -> None:
    event = confirmed()
    for encode in (to_binary, to_structured, to_binary):
        headers, body = encode(event)
        response = await client.post(
            "/events", content=body, headers={**headers, **senders.headers()}
        )
        assert response.status_code == 202
        assert response.content == b""
    assert len(smtp.wait_for(1)) == 1
    inbox = await client.get(
        "/notifications", headers={"authorization": f"Bearer {TOKENS.token('u1')}"}
    )
    (note,) = inbox.json()["items"]
    assert note["event_id"] == event.id
    assert note["channels"] == ["inbox", "email"]
    assert set(note) == {
        "id",
        "user_id",
        "kind",
        "subject",
        "body",
        "channels",
        "created",
        "event_id",
    }
    metrics = (await client.get("/metrics")).text
    stored = 'notifications_events_total{result="stored",type="shop.order.confirmed.v1"} 1.0'
    duplicates = 'notifications_events_total{result="duplicate",type="shop.order.confirmed.v1"} 2.0'
    assert stored in metrics
    assert duplicates in metrics
    assert 'notifications_emails_total{result="sent"} 1.0' in metrics


async def test_the_inbox_is_the_callers_own_and_needs_a_token(
    client: Client,
    senders: Senders,
) -> None:
    headers, body = to_binary(confirmed(user_id="u1"))
    await client.post("/events", content=body, headers={**headers, **senders.headers()})
    other = await client.get(
        "/notifications", headers={"authorization": f"Bearer {TOKENS.token('u2')}"}
    )
    assert other.json() == {"items": [], "next_cursor": None}
    anonymous = await client.get("/notifications")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    bad = await client.get(
        "/notifications?limit=0", headers={"authorization": f"Bearer {TOKENS.token('u1')}"}
    )
    assert bad.status_code in {400, 422}


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"content-type": "application/json"}, b"{}"),
        (to_binary(new_event("shop.unknown.v1", "/orders", {}))),
        (to_binary(new_event("shop.order.confirmed.v1", "/orders", {"order_id": "o1"}))),
    ],
)
async def test_events_that_can_never_succeed_are_400(
    client: Client,
    senders: Senders,
    headers: dict[str, str],
    body: bytes,
) -> None:
    response = await client.post("/events", content=body, headers={**headers, **senders.headers()})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_smtp_down_is_503_with_retry_after_so_the_broker_retries(
    client: Client,
    senders: Senders,
    smtp: SmtpSink,
) -> None:
    smtp.stop()
    headers, body = to_binary(confirmed())
    response = await client.post("/events", content=body, headers={**headers, **senders.headers()})
    assert response.status_code == 503
    assert "retry-after" in response.headers


async def test_dead_letters_are_kept_listed_and_marked_replayed(
    client: Client,
    senders: Senders,
) -> None:
    event = confirmed().with_extensions(knativeerrorcode="503", knativeerrordest="http://x/events")
    headers, body = to_structured(event)
    assert (
        await client.post("/dead-letters", content=body, headers={**headers, **senders.headers()})
    ).status_code == 202
    (letter,) = (await client.get("/dead-letters", headers=ADMIN)).json()["items"]
    assert (letter["event_id"], letter["error_code"], letter["times"]) == (event.id, "503", 1)
    assert letter["event"]["data"]["order_id"] == "o1"
    marked = await client.post(
        "/dead-letters/replayed", json={"ids": [letter["id"]]}, headers=ADMIN
    )
    assert marked.json() == {"marked": 1}
    assert (await client.get("/dead-letters", headers=ADMIN)).json()["items"] == []
    assert (
        len((await client.get("/dead-letters?replayed=true", headers=ADMIN)).json()["items"]) == 1
    )
    assert (
        await client.post("/dead-letters/replayed", json={"ids": []}, headers=ADMIN)
    ).status_code in {400, 422}
