from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.exceptions import HTTPException

from gateway.dispatch import Dispatch, Guarded
from shop.runtime.errors import Unavailable


def _scope(path: str, kind: str = "http") -> dict[str, Any]:
    return {
        "type": kind,
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [],
        "state": {},
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _call(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, _receive, send)
    return sent


def _named(name: str, seen: list[str]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(name)

    return app


async def test_proxied_prefixes_skip_the_router_and_the_rest_reach_it() -> None:
    seen: list[str] = []
    dispatch = Dispatch(
        _named("proxy", seen), _named("router", seen), ["/products", "/.well-known"]
    )

    for path in (
        "/products",
        "/products/1",
        "/.well-known/jwks.json",
        "/registry",
        "/",
        "/productsx",
    ):
        await _call(dispatch, _scope(path))
    await _call(dispatch, _scope("/products", kind="websocket"))

    assert seen == ["proxy", "proxy", "proxy", "router", "router", "router", "router"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (Unavailable("down", retry_after=3), 503),
        (HTTPException(status_code=413, detail="too large"), 413),
        (RuntimeError("bug"), 500),
    ],
)
async def test_errors_before_the_response_become_problems(error: Exception, status: int) -> None:
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        raise error

    sent = await _call(Guarded(failing), _scope("/products"))

    start, body = sent[0], sent[1]
    assert start["status"] == status
    headers = dict(start["headers"])
    assert headers[b"content-type"] == b"application/problem+json"
    assert json.loads(body["body"])["status"] == status
    if status == 503:
        assert headers[b"retry-after"] == b"3"


async def test_an_error_mid_stream_is_left_to_the_server() -> None:
    async def breaks(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        await _call(Guarded(breaks), _scope("/products"))
