"""The notifications service layer: handle an event once, keep the inbox, keep dead letters.

An event is stored once per (source, id), enforced by a unique constraint, whatever the number
of deliveries. Its e-mail is sent under a claim, so concurrent duplicates send it once; when
sending fails the claim is released and the caller answers 503 for the broker to retry, and
the retry sends the e-mail without storing a second notification.
"""

from __future__ import annotations

import hashlib
import logging

from functions.notifications import store
from functions.notifications.mailer import Mail, Mailer, MailRefused, MailUnavailable
from functions.notifications.metrics import NotificationMetrics
from functions.notifications.model import EMAIL, INBOX, compose
from functions.notifications.store import DeadLetter, Notification
from shop.db import Database
from shop.events.ce import CloudEvent, to_structured
from shop.runtime import telemetry
from shop.runtime.clock import now_us
from shop.runtime.errors import Unavailable
from shop.runtime.pages import CursorKey

log = logging.getLogger("shop.notifications")
ERROR_EXTENSIONS = ("knativeerrorcode", "knativeerrordest", "knativeerrordata")


class NotificationsService:
    def __init__(
        self,
        db: Database,
        mailer: Mailer | None,
        *,
        claim_seconds: float = 60,
        metrics: NotificationMetrics | None = None,
    ) -> None:
        self.db = db
        self.mailer = mailer
        self.metrics = metrics
        self.claim_us = int(claim_seconds * 1_000_000)

    async def handle(self, event: CloudEvent) -> Notification:
        with telemetry.span(
            f"consume {event.type}",
            kind="consumer",
            attributes={"cloudevents.event_id": event.id, "cloudevents.event_source": event.source},
        ):
            draft = compose(event.type, event.source, event.data)
            note = Notification(
                id=store.new_id(),
                user_id=draft.user_id,
                kind=draft.kind,
                subject=draft.subject,
                body=draft.body,
                email=draft.email,
                channels=[INBOX, EMAIL] if self.mailer else [INBOX],
                event_source=event.source,
                event_id=event.id,
                created_us=now_us(),
                email_status=store.PENDING if self.mailer else store.NONE,
                email_sent_us=None,
            )
            async with self.db.transaction() as tx:
                stored = await store.insert_once(tx, note)
            fresh = stored.id == note.id
            log.info(
                "notification stored" if fresh else "duplicate event ignored",
                extra={"event_id": event.id, "event_source": event.source, "kind": note.kind},
            )
            if self.metrics is not None:
                self.metrics.events.labels(event.type, "stored" if fresh else "duplicate").inc()
            note = stored
            if self.mailer is not None and note.email_status == store.PENDING:
                await self._send_once(self.mailer, note)
            return note

    async def _send_once(self, mailer: Mailer, note: Notification) -> None:
        now = now_us()
        async with self.db.transaction() as tx:
            claimed = await store.claim_email(tx, note.id, now, now + self.claim_us)
            status = None if claimed else await store.email_status(tx, note.id)
        if status == store.PENDING:
            # Another delivery holds the claim: it may yet fail (or have died), so this one is
            # not done until the e-mail is; the broker retries, and then finds it sent.
            raise Unavailable("The e-mail for this event is being sent.", retry_after=2)
        if not claimed:
            return  # sent (or refused for good) already
        try:
            await mailer.send(Mail(note.email, note.subject, note.body, _message_id(note)))
        except MailRefused as exc:
            self._count_email("refused")
            log.warning(
                "e-mail refused for good", extra={"notification_id": note.id, "error": str(exc)}
            )
            async with self.db.transaction() as tx:
                await store.finish_email(tx, note.id, store.REFUSED, None)
            return
        except MailUnavailable as exc:
            self._count_email("retry")
            async with self.db.transaction() as tx:
                await store.release_email(tx, note.id)
            raise Unavailable(f"E-mail could not be sent yet: {exc}", retry_after=5) from exc
        async with self.db.transaction() as tx:
            await store.finish_email(tx, note.id, store.SENT, now_us())
        self._count_email("sent")

    def _count_email(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.emails.labels(result).inc()

    async def inbox(self, user_id: str, after: CursorKey | None, limit: int) -> list[Notification]:
        async with self.db.transaction(readonly=True) as tx:
            return await store.inbox(tx, user_id, after, limit)

    async def keep_dead_letter(self, event: CloudEvent) -> DeadLetter:
        original = event.without_extensions(*ERROR_EXTENSIONS)
        letter = DeadLetter(
            id=store.new_id(),
            event_source=event.source,
            event_id=event.id,
            event_type=event.type,
            event=to_structured(original)[1].decode(),
            error_code=event.extensions.get("knativeerrorcode"),
            error_dest=event.extensions.get("knativeerrordest"),
            error_data=event.extensions.get("knativeerrordata"),
            received_us=now_us(),
            times=1,
            replayed_us=None,
        )
        async with self.db.transaction() as tx:
            await store.keep_dead_letter(tx, letter)
        if self.metrics is not None:
            self.metrics.dead_letters.labels(event.type, letter.error_code or "").inc()
        # Info, not a warning: an outage of a consumer makes one per event; the store and the
        # dead_letters metric keep count, `shop dlq list` shows them.
        log.info(
            "dead letter kept",
            extra={"event_id": event.id, "event_type": event.type, "code": letter.error_code},
        )
        return letter

    async def dead_letters(
        self, after: CursorKey | None, limit: int, *, replayed: bool
    ) -> list[DeadLetter]:
        async with self.db.transaction(readonly=True) as tx:
            return await store.dead_letters(tx, after, limit, replayed=replayed)

    async def mark_replayed(self, ids: list[str]) -> int:
        async with self.db.transaction() as tx:
            return await store.mark_replayed(tx, ids, now_us())


def _message_id(note: Notification) -> str:
    """Stable per event, so a mail system can drop a duplicate too."""
    digest = hashlib.sha256(f"{note.event_source}\n{note.event_id}".encode()).hexdigest()[:32]
    return f"<{digest}@notifications.shop>"
