"""What every service refuses or adapts before a handler runs.

- `JsonRequest`: a JSON body must say it is JSON (else 415), may not nest deeper than the decoder
  can follow (400 instead of a `RecursionError`), and must have the handler's types exactly:
  Litestar converts bodies leniently (`"quantity": "1"` would become 1), so a body that only
  passes leniently is refused here with the same 422 Litestar gives for any other invalid field.
- `answer_head`: HEAD is GET without the body (RFC 9110 9.3.2), for every GET route.
"""

from __future__ import annotations

import re
from typing import Any, cast

import msgspec
from litestar import Litestar, Request
from litestar.exceptions import ClientException, ValidationException
from litestar.routes import ASGIRoute
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_415_UNSUPPORTED_MEDIA_TYPE
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

_JSON_MEDIA_TYPE = re.compile(r"\Aapplication/(?:[\w.+-]+\+)?json\Z")
_AT_PATH = re.compile(r" - at `\$\.?(.*)`\Z")


def is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return bool(_JSON_MEDIA_TYPE.match(media_type))


class JsonRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        if not is_json(self.headers.get("content-type")):
            raise ClientException(
                "The body must be JSON (Content-Type: application/json).",
                status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            )
        try:
            value = await super().json()
        except RecursionError:
            raise ClientException(
                "The JSON is nested too deeply.", status_code=HTTP_400_BAD_REQUEST
            ) from None
        data = self.route_handler.parsed_fn_signature.parameters.get("data")
        if data is not None:
            _check_strictly(value, data.annotation, f"{self.method} {self.url.path}")
        return value


def _check_strictly(value: Any, annotation: Any, where: str) -> None:
    """Refuse what only lenient conversion accepts; leave every other error to Litestar."""
    try:
        msgspec.convert(value, annotation, strict=True)
    except msgspec.ValidationError as strict:
        try:
            msgspec.convert(value, annotation, strict=False)
        except (msgspec.ValidationError, RecursionError):
            return  # invalid either way: Litestar reports it like any other invalid field
        message, _, _ = str(strict).partition(" - ")
        path = _AT_PATH.search(str(strict))
        raise ValidationException(
            f"Validation failed for {where}",
            extra=[{"message": message, "key": path.group(1) if path else "", "source": "body"}],
        ) from None
    except RecursionError:
        raise ClientException(
            "The JSON is nested too deeply.", status_code=HTTP_400_BAD_REQUEST
        ) from None


def answer_head(app: Litestar, handler: ASGIApp) -> ASGIApp:
    """Serve HEAD as GET, sending the headers GET would send and no body; unless the app
    routes HEAD itself (an ASGI mount, like the gateway's, forwards every method as it came)."""
    if any(isinstance(route, ASGIRoute) or "HEAD" in route.methods for route in app.routes):
        return handler

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "HEAD":  # only HTTP scopes have a method
            await handler(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await handler(cast("HTTPScope", {**scope, "method": "GET"}), receive, headers_only)

    return handle
