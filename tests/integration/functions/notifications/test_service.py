"""The notifications service on real SQLite and PostgreSQL with a real SMTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from functions.notifications.mailer import SmtpMailer, SmtpSettings
from functions.notifications.migrations import MIGRATIONS
from functions.notifications.model import UnusableEvent
from functions.notifications.service import NotificationsService
from shop.db import Database
from shop.events.ce import new_event
from shop.runtime.errors import Unavailable
from tests.support.databases import DIALECTS, database_url, migrated
from tests.support.events import confirmed
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.integration


@pytest.fixture(params=DIALECTS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path, "notifications") as found:
        yield found


@pytest.fixture
async def db(url: str) -> AsyncIterator[Database]:
    async with migrated(url, MIGRATIONS) as database:
        yield database


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def _service(db: Database, smtp: SmtpSink) -> NotificationsService:
    settings = SmtpSettings.from_url(smtp.url, "shop <noreply@shop.test>")
    return NotificationsService(db, SmtpMailer(settings))


async def test_an_event_delivered_twice_makes_one_notification_and_one_email(
    db: Database, smtp: SmtpSink
) -> None:
    service = _service(db, smtp)
    event = confirmed()
    first = await service.handle(event)
    again = await service.handle(event)
    assert again.id == first.id
    assert [n.id for n in await service.inbox("u1", None, 10)] == [first.id]
    (mail,) = smtp.wait_for(1)
    await asyncio.sleep(0.2)
    assert len(smtp.messages) == 1
    assert mail["To"] == "u1@example.com"
    assert mail["Subject"] == "Order o1 confirmed"
    assert "2 x Tea at 4.50 EUR" in mail.get_payload()
    assert first.channels == ["inbox", "email"]


async def test_concurrent_duplicates_send_one_email(db: Database, smtp: SmtpSink) -> None:
    service = _service(db, smtp)
    event = confirmed()
    results = await asyncio.gather(
        *(service.handle(event) for _ in range(5)), return_exceptions=True
    )
    # The one that holds the e-mail claim succeeds; the others are asked to come back later,
    # since until the e-mail is sent the event is not done (the holder might still fail).
    assert all(isinstance(r, Unavailable) for r in results if not hasattr(r, "id"))
    assert any(hasattr(r, "id") for r in results)
    await service.handle(event)  # a later redelivery finds it sent: done, nothing sent again
    smtp.wait_for(1)
    await asyncio.sleep(0.2)
    assert len(smtp.messages) == 1
    assert len(await service.inbox("u1", None, 10)) == 1


async def test_smtp_down_asks_for_a_retry_which_then_sends_once(
    db: Database, smtp: SmtpSink
) -> None:
    service = _service(db, smtp)
    event = confirmed()
    smtp.stop()
    with pytest.raises(Unavailable):
        await service.handle(event)
    assert len(await service.inbox("u1", None, 10)) == 1  # the inbox has it already
    smtp.start()
    await service.handle(event)
    await service.handle(event)
    smtp.wait_for(1)
    await asyncio.sleep(0.2)
    assert len(smtp.messages) == 1


async def test_without_smtp_the_inbox_still_gets_every_notification(db: Database) -> None:
    service = NotificationsService(db, None)
    note = await service.handle(confirmed())
    assert note.channels == ["inbox"]


async def test_events_that_can_never_succeed_are_unusable(db: Database, smtp: SmtpSink) -> None:
    service = _service(db, smtp)
    broken = new_event("shop.order.confirmed.v1", "/orders", {"order_id": "o1"})
    with pytest.raises(UnusableEvent):
        await service.handle(broken)
    spoofed = new_event("shop.order.confirmed.v1", "/elsewhere", confirmed().data)
    with pytest.raises(UnusableEvent):
        await service.handle(spoofed)
    assert await service.inbox("u1", None, 10) == []


async def test_the_inbox_pages_newest_first_per_user(db: Database) -> None:
    service = NotificationsService(db, None)
    for n in range(5):
        await service.handle(confirmed(f"o{n}"))
    await service.handle(confirmed("other", user_id="u2"))
    first = await service.inbox("u1", None, 3)
    assert [n.subject for n in first] == [f"Order o{n} confirmed" for n in (4, 3, 2)]
    from shop.runtime.pages import CursorKey

    rest = await service.inbox("u1", CursorKey(first[-1].created_us, first[-1].id), 3)
    assert [n.subject for n in rest] == ["Order o1 confirmed", "Order o0 confirmed"]


async def test_dead_letters_are_kept_once_per_event_until_replayed(db: Database) -> None:
    service = NotificationsService(db, None)
    event = confirmed().with_extensions(
        knativeerrorcode="500", knativeerrordest="http://n/events", knativeerrordata="Ym9vbQ=="
    )
    await service.keep_dead_letter(event)
    await service.keep_dead_letter(event)
    (letter,) = await service.dead_letters(None, 10, replayed=False)
    assert (letter.times, letter.error_code, letter.event_id) == (2, "500", event.id)
    assert "knativeerrorcode" not in letter.event  # the original event, ready to replay
    assert await service.mark_replayed([letter.id]) == 1
    assert await service.dead_letters(None, 10, replayed=False) == []
    assert len(await service.dead_letters(None, 10, replayed=True)) == 1
    await service.keep_dead_letter(event)  # it failed again after the replay
    assert len(await service.dead_letters(None, 10, replayed=False)) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_smtp_auth_from_the_url_is_used_and_a_wrong_password_is_retried(
    db: Database,
) -> None:
    with SmtpSink(credentials=("mailer", "s3cret pass")) as smtp:
        good = SmtpSettings.from_url(
            f"smtp://mailer:s3cret%20pass@127.0.0.1:{smtp.port}", "shop <noreply@shop.test>"
        )
        bad = SmtpSettings.from_url(f"smtp://mailer:nope@127.0.0.1:{smtp.port}", "x@shop.test")
        with pytest.raises(Unavailable):  # 535: fix the configuration, the event waits
            await NotificationsService(db, SmtpMailer(bad)).handle(confirmed("o1"))
        await NotificationsService(db, SmtpMailer(good)).handle(confirmed("o2"))
        (mail,) = smtp.wait_for(1)
        assert mail["Subject"] == "Order o2 confirmed"


async def test_starttls_is_used_when_the_url_asks_and_verified_against_smtp_ca_file(
    db: Database, tmp_path: Path
) -> None:
    from tests.support.certs import self_signed

    cert, context = self_signed(tmp_path)
    with SmtpSink(starttls=context) as smtp:
        url = f"smtp://127.0.0.1:{smtp.port}"
        plain = SmtpSettings.from_url(url, "x@shop.test")
        with pytest.raises(Unavailable):  # this server refuses mail before STARTTLS
            await NotificationsService(db, SmtpMailer(plain)).handle(confirmed("o1"))
        secured = SmtpSettings.from_url(f"{url}?starttls=true", "x@shop.test", ca_file=str(cert))
        await NotificationsService(db, SmtpMailer(secured)).handle(confirmed("o2"))
        (mail,) = smtp.wait_for(1)
        assert mail["Subject"] == "Order o2 confirmed"


async def test_an_email_claim_left_by_a_dead_delivery_is_taken_over_after_it_expires(
    db: Database, smtp: SmtpSink
) -> None:
    settings = SmtpSettings.from_url(smtp.url, "x@shop.test")
    service = NotificationsService(db, SmtpMailer(settings), claim_seconds=0.3)
    event = confirmed()
    smtp.stop()
    with pytest.raises(Unavailable):
        await service.handle(event)
    (note,) = await service.inbox("u1", None, 10)
    from functions.notifications import store
    from shop.runtime.clock import now_us

    async with db.transaction() as tx:  # a delivery that claimed the e-mail, then died
        assert await store.claim_email(tx, note.id, now_us(), now_us() + 300_000)
    smtp.start()
    with pytest.raises(Unavailable):
        await service.handle(event)  # the claim still stands: not done, retry later
    await asyncio.sleep(0.35)
    await service.handle(event)  # the claim expired: this delivery sends it
    assert len(smtp.wait_for(1)) == 1
