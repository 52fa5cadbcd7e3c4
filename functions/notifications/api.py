"""The notifications function's HTTP surface: the inbox, the event sink and the dead letters.

`POST /events` and `POST /dead-letters` take CloudEvents in binary or structured mode and answer
as Knative expects: 202 with an empty body when handled, 503 (or 500) to be retried, 400 for an
event that can never succeed. They and `GET /dead-letters` are cluster-internal: the gateway
routes only `GET /notifications`. The two event sinks take events only from an authenticated
sender (an OIDC token, `shop.auth.events`: 401/403 before the body is read); reading and marking
dead letters needs the admin (they hold customers' e-mail addresses).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter

from functions.notifications.model import UnusableEvent
from functions.notifications.service import NotificationsService
from functions.notifications.store import DeadLetter, Notification
from shop.auth.bearer import require_admin
from shop.auth.events import EventClaims
from shop.auth.tokens import Claims
from shop.events.ce import CloudEvent, InvalidEvent, UnsupportedMode, from_http
from shop.runtime import telemetry
from shop.runtime.clock import rfc3339
from shop.runtime.errors import UnsupportedMediaType
from shop.runtime.pages import DEFAULT_LIMIT, decode_cursor, encode_cursor
from shop.runtime.text import LINE_PATTERN

Service = NamedDependency[NotificationsService]
PageLimit = Annotated[int, QueryParameter(ge=1, le=100)]
Cursor = Annotated[str | None, QueryParameter(max_length=400)]
_ATTRIBUTE = re.compile(LINE_PATTERN)


class NotificationOut(msgspec.Struct, frozen=True):
    id: str
    user_id: str
    kind: str
    subject: str
    body: str
    channels: list[str]
    created: str
    event_id: str

    @classmethod
    def of(cls, note: Notification) -> NotificationOut:
        return cls(
            note.id,
            note.user_id,
            note.kind,
            note.subject,
            note.body,
            note.channels,
            rfc3339(note.created_us),
            note.event_id,
        )


class NotificationPage(msgspec.Struct, frozen=True):
    items: list[NotificationOut]
    next_cursor: str | None


class DeadLetterOut(msgspec.Struct, frozen=True):
    id: str
    event_id: str
    source: str
    type: str
    error_code: str | None
    error_dest: str | None
    error_data: str | None
    received: str
    times: int
    replayed: str | None
    event: dict[str, Any]

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterOut:
        return cls(
            letter.id,
            letter.event_id,
            letter.event_source,
            letter.event_type,
            letter.error_code,
            letter.error_dest,
            letter.error_data,
            rfc3339(letter.received_us),
            letter.times,
            rfc3339(letter.replayed_us) if letter.replayed_us else None,
            msgspec.json.decode(letter.event),
        )


class DeadLetterPage(msgspec.Struct, frozen=True):
    items: list[DeadLetterOut]
    next_cursor: str | None


class Replayed(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    ids: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=64, pattern=LINE_PATTERN)]],
        msgspec.Meta(min_length=1, max_length=100),
    ]


class Marked(msgspec.Struct, frozen=True):
    marked: int


async def _event(request: Request[Any, Any, Any]) -> CloudEvent:
    try:
        event = from_http(dict(request.headers), await request.body())
    except UnsupportedMode as exc:
        raise UnsupportedMediaType(str(exc)) from None
    except InvalidEvent as exc:
        raise UnusableEvent(str(exc)) from None
    except RecursionError:
        raise UnusableEvent("The event is nested too deeply.") from None
    # CloudEvents' String type excludes the control characters U+0000-U+001F and U+007F-U+009F.
    if not all(_ATTRIBUTE.match(value) for value in event.attributes().values()):
        raise UnusableEvent("An attribute of the event holds a control character.")
    return event


@get("/notifications", tags=["notifications"], summary="The caller's notifications")
async def list_notifications(
    claims: NamedDependency[Claims],
    notifications: Service,
    limit: PageLimit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> NotificationPage:
    found = await notifications.inbox(claims.sub, decode_cursor(cursor), limit)
    following = encode_cursor(found[-1].created_us, found[-1].id) if len(found) == limit else None
    return NotificationPage([NotificationOut.of(n) for n in found], following)


@post("/events", status_code=202, include_in_schema=False)
async def receive_event(
    request: Request[Any, Any, Any], notifications: Service, sender: NamedDependency[EventClaims]
) -> Response[bytes]:
    event = await _event(request)
    with telemetry.continued(telemetry.event_carrier(request.headers, event.extensions)):
        await notifications.handle(event)
    return Response(b"", status_code=202, media_type="text/plain")


@post("/dead-letters", status_code=202, include_in_schema=False)
async def receive_dead_letter(
    request: Request[Any, Any, Any], notifications: Service, sender: NamedDependency[EventClaims]
) -> Response[bytes]:
    await notifications.keep_dead_letter(await _event(request))
    return Response(b"", status_code=202, media_type="text/plain")


@get("/dead-letters", include_in_schema=False)
async def list_dead_letters(
    claims: NamedDependency[Claims],
    notifications: Service,
    limit: PageLimit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    replayed: FromQuery[bool] = False,
) -> DeadLetterPage:
    require_admin(claims)
    found = await notifications.dead_letters(decode_cursor(cursor), limit, replayed=replayed)
    following = encode_cursor(found[-1].received_us, found[-1].id) if len(found) == limit else None
    return DeadLetterPage([DeadLetterOut.of(d) for d in found], following)


@post("/dead-letters/replayed", status_code=200, include_in_schema=False)
async def mark_replayed(
    claims: NamedDependency[Claims], data: JSONBody[Replayed], notifications: Service
) -> Marked:
    require_admin(claims)
    return Marked(await notifications.mark_replayed(data.ids))


ROUTES = [list_notifications, receive_event, receive_dead_letter, list_dead_letters, mark_replayed]
