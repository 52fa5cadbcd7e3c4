"""The one mapping from errors to RFC 9457 problem+json responses, shared by every service."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any, get_args

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import AfterExceptionHookHandler, ExceptionHandlersMap, Receive, Scope, Send

from shop.runtime.errors import (
    FieldError,
    InvalidInput,
    ShopError,
    Unauthenticated,
    Unavailable,
)

PROBLEM_JSON = "application/problem+json"
# On every deliberate 503 (`Unavailable`: a dependency is down, or the instance sheds load):
# the instance itself works, so the gateway passes the answer on without opening its breaker.
FAILURE_HEADER = "X-Shop-Failure"
log = logging.getLogger("shop.runtime.errors")

STATUS_BY_KIND = {
    "bad_request": 400,
    "invalid": 422,
    "not_found": 404,
    "conflict": 409,
    "unauthenticated": 401,
    "forbidden": 403,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "unavailable": 503,
    "internal": 500,
}
_NAMED_FIELD = re.compile(r"(?:unknown|missing required) field `([^`]+)`")
_AT_PATH = re.compile(r"^(.*) - at `\$(.*)`$")


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
    retry_after = getattr(exc, "retry_after", None)  # 429, 503, and a 409 "try again soon"
    if isinstance(retry_after, int):
        headers["Retry-After"] = str(retry_after)
    if isinstance(exc, Unavailable):
        headers[FAILURE_HEADER] = exc.failure
    if isinstance(exc, InvalidInput):
        extra["errors"] = _field_errors(exc.errors)
    if status >= 500 and not isinstance(exc, Unavailable):  # an outage logs its own changes
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
        field = key if key not in {"", "data"} else (named.group(1) if named else "body")
        errors.append(FieldError(field, message))
    return problem(
        422,
        "The request did not validate.",
        title="Invalid input",
        kind="invalid",
        errors=_field_errors(errors),
    )


def body_errors(body: Any, model: type[msgspec.Struct], path: str = "") -> list[FieldError]:
    """Every invalid field of a JSON body, where msgspec stops at the first: missing, unknown
    and each present field decoded on its own (nested structs field by field too)."""
    if not isinstance(body, dict):
        return [FieldError(path or "body", _first_error(body, model) or "Expected `object`")]
    errors: list[FieldError] = []
    fields = msgspec.structs.fields(model)
    known = {f.encode_name for f in fields}
    for item in fields:
        name = f"{path}.{item.encode_name}" if path else item.encode_name
        if item.encode_name not in body:
            if item.required:
                errors.append(
                    FieldError(name, f"Object missing required field `{item.encode_name}`")
                )
            continue
        value = body[item.encode_name]
        nested = _struct_in(item.type)
        if nested is not None and isinstance(value, dict):
            errors += body_errors(value, nested, name)
        elif (message := _first_error(value, item.type)) is not None:
            found = _AT_PATH.match(message)
            errors.append(
                FieldError(name + found.group(2), found.group(1))
                if found
                else FieldError(name, message)
            )
    if model.__struct_config__.forbid_unknown_fields:
        errors += [
            FieldError(f"{path}.{key}" if path else key, f"Object contains unknown field `{key}`")
            for key in body
            if key not in known
        ]
    return errors


def _struct_in(annotation: Any) -> type[msgspec.Struct] | None:
    """The struct a field holds (`Address` or `Address | None`), else None."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, msgspec.Struct):
            return candidate
    return None


def _first_error(value: Any, target: Any) -> str | None:
    try:
        msgspec.json.decode(msgspec.json.encode(value), type=target)
    except msgspec.ValidationError as exc:
        return str(exc)
    return None


async def collect_body_errors(exc: Exception, scope: Scope) -> None:
    """msgspec (and so Litestar) reports only a body's first invalid field; on a body's
    validation error, decode the body again field by field so the 422 lists every one."""
    if not isinstance(exc, ValidationException) or not isinstance(exc.extra, list):
        return
    if not any(isinstance(e, dict) and e.get("source") == "body" for e in exc.extra):
        return
    handler = scope.get("route_handler")
    data = getattr(handler, "parsed_fn_signature", None)
    model = data.parameters["data"].annotation if data and "data" in data.parameters else None
    if not (isinstance(model, type) and issubclass(model, msgspec.Struct)):
        return
    body = await Request[Any, Any, Any](scope).json()  # decoded once already: cached
    if errors := body_errors(body, model):
        exc.extra = [{"message": e.message, "key": e.field, "source": "body"} for e in errors]


def from_http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    headers = dict(exc.headers or {})
    return problem(exc.status_code, exc.detail, headers=headers)


def from_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error", exc_info=exc)
    return problem(500, "The server failed to handle the request.")


AFTER_EXCEPTION: list[AfterExceptionHookHandler[Exception]] = [collect_body_errors]
EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ShopError: from_shop_error,
    ValidationException: from_validation,
    HTTPException: from_http,
    Exception: from_unexpected,
}


async def answer_problem(exc: Exception, scope: Scope, receive: Receive, send: Send) -> None:
    """Send the problem response for `exc`, raised by a raw ASGI app before its answer started
    (as Litestar's exception handlers would inside a route)."""
    request: Request[Any, Any, Any] = Request(scope, receive)
    if isinstance(exc, ShopError):
        response = from_shop_error(request, exc)
    elif isinstance(exc, HTTPException):
        response = from_http(request, exc)
    else:
        response = from_unexpected(request, exc)
    await response.to_asgi_response(app=None, request=request)(scope, receive, send)
