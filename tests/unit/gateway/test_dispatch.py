from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.exceptions import HTTPException

from gateway.dispatch import Dispatch, Guarded
from shop.runtime.errors import Unavailable
from shop.runtime.health import Health
from shop.runtime.instrumentation import Instrumentation
from shop.runtime.metrics import Metrics


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
        _named("proxy", seen),
        Instrumentation(_named("router", seen), Metrics("gateway")),
        ["/products", "/.well-known"],
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


def _answering(scope: Any, receive: Any, send: Any) -> Any:
    async def run() -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return run()


async def test_a_proxied_answer_gets_its_id_hsts_and_close_while_draining_in_one_layer() -> None:
    health = Health()
    metrics = Metrics("gateway")
    dispatch = Dispatch(
        _answering,
        Instrumentation(_named("router", []), metrics, health),
        ["/products"],
        guard=True,
        hsts=b"max-age=60",
    )
    plain = await _call(dispatch, _scope("/products/1"))
    health.begin_shutdown()
    secure = await _call(dispatch, {**_scope("/products/1"), "scheme": "https"})

    assert [name for name, _ in plain[0]["headers"]] == [b"x-request-id"]
    assert [name for name, _ in secure[0]["headers"]] == [
        b"strict-transport-security",
        b"x-request-id",
        b"connection",
    ]
    assert dict(secure[0]["headers"])[b"connection"] == b"close"


async def test_a_proxied_error_becomes_a_problem_with_its_request_id() -> None:
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        raise Unavailable("down", retry_after=2)

    dispatch = Dispatch(
        failing,
        Instrumentation(_named("router", []), Metrics("gateway")),
        ["/products"],
        guard=True,
    )
    sent = await _call(dispatch, {**_scope("/products/1"), "headers": [(b"x-request-id", b"r-1")]})

    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 503
    assert headers[b"retry-after"] == b"2"
    assert headers[b"x-request-id"] == b"r-1"
    assert headers[b"content-type"] == b"application/problem+json"
