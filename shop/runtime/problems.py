"""The one mapping from errors to RFC 9457 problem+json responses, shared by every service."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from shop.runtime.errors import (
    FieldError,
    InvalidInput,
    ShopError,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
)

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("shop.runtime.errors")

STATUS_BY_KIND = {
    "bad_request": 400,
    "invalid": 422,
    "not_found": 404,
    "conflict": 409,
    "unauthenticated": 401,
    "forbidden": 403,
    "rate_limited": 429,
    "unavailable": 503,
    "internal": 500,
}
_NAMED_FIELD = re.compile(r"(?:unknown|missing required) field `([^`]+)`")


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": f"urn:shop:problem:{(kind or phrase).lower().replace(' ', '-').replace('_', '-')}",
        "title": title or phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_errors(errors: list[FieldError]) -> list[dict[str, str]]:
    return [{"field": e.field, "message": e.message} for e in errors]


def from_shop_error(_: Request[Any, Any, Any], exc: ShopError) -> Response[dict[str, Any]]:
    status = STATUS_BY_KIND.get(exc.kind, 500)
    headers: dict[str, str] = {}
    extra = dict(exc.extra)
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyRequests | Unavailable):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, InvalidInput):
        extra["errors"] = _field_errors(exc.errors)
    if status >= 500:
        log.error("request failed: %s", exc.detail)
    return problem(status, exc.detail, title=exc.title, kind=exc.kind, headers=headers, **extra)


def from_validation(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    if not isinstance(exc.extra, list):
        return problem(400, exc.detail, title="Malformed request", kind="malformed")
    errors = []
    for item in exc.extra:
        message = str(item.get("message", "invalid")) if isinstance(item, dict) else str(item)
        key = str(item.get("key", "")) if isinstance(item, dict) else ""
        named = _NAMED_FIELD.search(message)
        field = named.group(1) if named else ("body" if key in {"", "data"} else key)
        errors.append(FieldError(field, message))
    return problem(
        422,
        "The request did not validate.",
        title="Invalid input",
        kind="invalid",
        errors=_field_errors(errors),
    )


def from_http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    headers = dict(exc.headers or {})
    return problem(exc.status_code, exc.detail, headers=headers)


def from_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "The server failed to handle the request.")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ShopError: from_shop_error,
    ValidationException: from_validation,
    HTTPException: from_http,
    Exception: from_unexpected,
}
