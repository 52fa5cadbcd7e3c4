"""The notifications function's SQL: the inbox, the e-mail claim and the dead letters."""

from __future__ import annotations

import uuid

import msgspec

from shop.db import Row, Transaction
from shop.runtime.pages import CursorKey

PENDING, SENT, REFUSED, NONE = "pending", "sent", "refused", "none"
_END = CursorKey(2**62, "")  # before the first page: every row sorts after it
SELECT_NOTE = (
    "SELECT id, user_id, kind, subject, body, email, channels, event_source, event_id,"
    " created_us, email_status, email_sent_us FROM notifications"
)
SELECT_LETTER = (
    "SELECT id, event_source, event_id, event_type, event, error_code, error_dest, error_data,"
    " received_us, times, replayed_us FROM dead_letters"
)


class Notification(msgspec.Struct, frozen=True):
    id: str
    user_id: str
    kind: str
    subject: str
    body: str
    email: str
    channels: list[str]
    event_source: str
    event_id: str
    created_us: int
    email_status: str
    email_sent_us: int | None

    @classmethod
    def of(cls, row: Row) -> Notification:
        fields = dict(row)
        fields["channels"] = msgspec.json.decode(fields["channels"])
        return cls(**fields)


class DeadLetter(msgspec.Struct, frozen=True):
    id: str
    event_source: str
    event_id: str
    event_type: str
    event: str
    error_code: str | None
    error_dest: str | None
    error_data: str | None
    received_us: int
    times: int
    replayed_us: int | None


async def insert_once(tx: Transaction, note: Notification) -> Notification:
    """Store `note` unless its event was already handled; the stored one either way."""
    inserted = await tx.execute(
        "INSERT INTO notifications (id, user_id, kind, subject, body, email, channels,"
        " event_source, event_id, created_us, email_status, email_sent_us)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        " ON CONFLICT (event_source, event_id) DO NOTHING",
        note.id,
        note.user_id,
        note.kind,
        note.subject,
        note.body,
        note.email,
        msgspec.json.encode(note.channels).decode(),
        note.event_source,
        note.event_id,
        note.created_us,
        note.email_status,
        note.email_sent_us,
    )
    if inserted:
        return note
    row = await tx.fetchrow(
        SELECT_NOTE + " WHERE event_source = $1 AND event_id = $2",
        note.event_source,
        note.event_id,
    )
    assert row is not None
    return Notification.of(row)


async def claim_email(tx: Transaction, note_id: str, now_us: int, until_us: int) -> bool:
    """Take the right to send this notification's e-mail; False if sent or someone holds it."""
    claimed = await tx.execute(
        "UPDATE notifications SET email_claimed_until_us = $1 WHERE id = $2"
        " AND email_status = 'pending'"
        " AND (email_claimed_until_us IS NULL OR email_claimed_until_us < $3)",
        until_us,
        note_id,
        now_us,
    )
    return claimed == 1


async def email_status(tx: Transaction, note_id: str) -> str | None:
    status: str | None = await tx.fetchval(
        "SELECT email_status FROM notifications WHERE id = $1", note_id
    )
    return status


async def finish_email(tx: Transaction, note_id: str, status: str, now_us: int | None) -> None:
    await tx.execute(
        "UPDATE notifications SET email_status = $1, email_sent_us = $2,"
        " email_claimed_until_us = NULL WHERE id = $3",
        status,
        now_us,
        note_id,
    )


async def release_email(tx: Transaction, note_id: str) -> None:
    await tx.execute(
        "UPDATE notifications SET email_claimed_until_us = NULL WHERE id = $1", note_id
    )


async def inbox(
    tx: Transaction, user_id: str, after: CursorKey | None, limit: int
) -> list[Notification]:
    key = after or _END
    rows = await tx.fetch(
        SELECT_NOTE + " WHERE user_id = $1 AND (created_us < $2 OR (created_us = $2 AND id < $3))"
        " ORDER BY created_us DESC, id DESC LIMIT $4",
        user_id,
        key.created,
        key.id,
        limit,
    )
    return [Notification.of(row) for row in rows]


async def keep_dead_letter(tx: Transaction, letter: DeadLetter) -> None:
    """Store a dead letter; the same event again bumps `times` and waits for replay anew."""
    await tx.execute(
        "INSERT INTO dead_letters (id, event_source, event_id, event_type, event, error_code,"
        " error_dest, error_data, received_us, times, replayed_us)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, NULL)"
        " ON CONFLICT (event_source, event_id) DO UPDATE SET"
        " event = excluded.event, error_code = excluded.error_code,"
        " error_dest = excluded.error_dest, error_data = excluded.error_data,"
        " received_us = excluded.received_us, times = dead_letters.times + 1, replayed_us = NULL",
        *msgspec.structs.astuple(letter)[:9],
    )


async def dead_letters(
    tx: Transaction, after: CursorKey | None, limit: int, *, replayed: bool
) -> list[DeadLetter]:
    key = after or _END
    rows = await tx.fetch(
        SELECT_LETTER + " WHERE (received_us < $1 OR (received_us = $1 AND id < $2))"
        " AND ($3 OR replayed_us IS NULL) ORDER BY received_us DESC, id DESC LIMIT $4",
        key.created,
        key.id,
        replayed,
        limit,
    )
    return [DeadLetter(**dict(row)) for row in rows]


async def mark_replayed(tx: Transaction, ids: list[str], now_us: int) -> int:
    marked = 0
    for letter_id in ids:
        marked += await tx.execute(
            "UPDATE dead_letters SET replayed_us = $1 WHERE id = $2", now_us, letter_id
        )
    return marked


def new_id() -> str:
    return str(uuid.uuid4())
