from __future__ import annotations

from typing import Any

from shop.runtime.health import Health
from shop.runtime.instrumentation import Instrumentation
from shop.runtime.metrics import Metrics


async def _answer(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def _start_of(app: Instrumentation) -> dict[str, Any]:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"x-request-id", b"r-7")]}
    await app(scope, receive, send)  # type: ignore[arg-type]
    return sent[0]


async def test_answers_carry_the_request_id_and_connection_close_only_while_draining() -> None:
    health = Health()
    app = Instrumentation(_answer, Metrics("orders"), health)

    serving = await _start_of(app)
    health.begin_shutdown()
    draining = await _start_of(app)

    assert serving["headers"] == [(b"x-a", b"1"), (b"x-request-id", b"r-7")]
    assert draining["headers"] == [
        (b"x-a", b"1"),
        (b"x-request-id", b"r-7"),
        (b"connection", b"close"),
    ]
