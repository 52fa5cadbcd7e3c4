"""The edge every service shares: JSON bodies must be JSON, not too deep, and of the handler's
exact types; HEAD is GET without a body unless the app routes HEAD itself."""

from __future__ import annotations

from typing import Annotated

import httpx
import msgspec
from litestar import Litestar, get, post
from litestar.handlers import asgi
from litestar.params import JSONBody
from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

from shop.runtime.edge import JsonRequest, answer_head
from shop.runtime.problems import EXCEPTION_HANDLERS


class Line(msgspec.Struct, forbid_unknown_fields=True):
    quantity: Annotated[int, msgspec.Meta(ge=1)]


@post("/lines", sync_to_thread=False)
def add(data: JSONBody[Line]) -> dict[str, int]:
    return {"quantity": data.quantity}


@get("/lines", sync_to_thread=False)
def lines() -> dict[str, list[int]]:
    return {"lines": [1, 2, 3]}


def client(app: Litestar) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=answer_head(app, app))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://shop")


def shop_app() -> Litestar:
    return Litestar([add, lines], request_class=JsonRequest, exception_handlers=EXCEPTION_HANDLERS)


async def post_lines(body: bytes, content_type: str | None = "application/json") -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    async with client(shop_app()) as http:
        return await http.post("/lines", content=body, headers=headers)


async def test_a_body_of_the_exact_types_is_taken() -> None:
    response = await post_lines(b'{"quantity": 2}')
    assert (response.status_code, response.json()) == (201, {"quantity": 2})
    suffixed = await post_lines(b'{"quantity": 2}', "application/merge-patch+json; charset=utf-8")
    assert suffixed.status_code == 201


async def test_a_number_in_a_string_is_a_422_naming_the_field() -> None:
    response = await post_lines(b'{"quantity": "2"}')
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["quantity"]


async def test_an_invalid_body_is_still_reported_by_litestar() -> None:
    response = await post_lines(b'{"quantity": 0}')
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["quantity"]


async def test_a_body_that_is_not_said_to_be_json_is_415() -> None:
    for content_type in ["text/plain", "application/x-www-form-urlencoded", None, "json"]:
        response = await post_lines(b'{"quantity": 2}', content_type)
        assert response.status_code == 415, content_type
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_json_nested_1000_deep_is_400() -> None:
    for deep in [b"[" * 1000 + b"]" * 1000, b'{"a":' * 1000 + b"1" + b"}" * 1000]:
        response = await post_lines(deep)
        assert response.status_code == 400
        assert response.json()["detail"] == "The JSON is nested too deeply."


async def test_head_sends_gets_headers_without_the_body() -> None:
    async with client(shop_app()) as http:
        got = await http.get("/lines")
        head = await http.head("/lines")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"] != "0"


async def test_an_app_that_routes_head_itself_keeps_it() -> None:
    seen: list[str] = []

    @asgi("/", is_mount=True, copy_scope=False)
    async def forward(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(str(scope.get("method")))
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": 204,
            "headers": [],
        }
        body: HTTPResponseBodyEvent = {
            "type": "http.response.body",
            "body": b"",
            "more_body": False,
        }
        await send(start)
        await send(body)

    app = Litestar([forward])
    assert answer_head(app, app) is app
    async with client(app) as http:
        await http.head("/anything")
    assert seen == ["HEAD"]
