"""A small real upstream for the gateway's tests: `python -m tests.e2e.gateway.upstream`.

It runs on the shared runtime as service `$UPSTREAM_SERVICE` (so it registers like a function),
echoes what it received, streams big bodies both ways, serves a JWKS from `$JWKS_FILE`, and
answers `/<service>/flaky` with whatever `POST /control` last asked for.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
from litestar import Request, Response, get, post, route
from litestar.response import Stream

from shop.runtime.errors import Unavailable
from shop.runtime.service import create_service_app, runtime_of
from shop.runtime.settings import Settings

METHODS: list[Any] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_behaviour: dict[str, float] = {"status": 200, "delay": 0.0}
_JWKS = Path(os.environ["JWKS_FILE"]).read_bytes() if os.environ.get("JWKS_FILE") else b"{}"


class Control(msgspec.Struct):
    status: int = 200
    delay: float = 0.0


def _instance() -> str:
    return os.environ.get("INSTANCE_ID", "?")


@route(["/{svc:str}", "/{svc:str}/{rest:path}"], http_method=METHODS, status_code=200)
async def echo(request: Request[Any, Any, Any], svc: str) -> dict[str, Any]:
    body = await request.body()
    return {
        "instance_id": _instance(),
        "method": request.method,
        "path": request.scope["raw_path"].decode(),
        "query": request.scope["query_string"].decode(),
        "headers": [[k, v] for k, v in request.headers.items()],
        "body_length": len(body),
    }


@route("/{svc:str}/flaky", http_method=METHODS, status_code=200)
async def flaky(svc: str) -> Response[dict[str, Any]]:
    await asyncio.sleep(_behaviour["delay"])
    status = int(_behaviour["status"])
    return Response({"instance_id": _instance(), "status": status}, status_code=status)


@get("/{svc:str}/unavailable")
async def unavailable(svc: str, failure: str = "dependency") -> None:
    """A 503 the way a function gives one: a dependency is down, or it sheds load."""
    raise Unavailable(f"{svc} cannot serve this now ({failure}).", retry_after=2, failure=failure)


@get("/{svc:str}/slow")
async def slow(svc: str, seconds: float = 1.0) -> dict[str, Any]:
    await asyncio.sleep(seconds)
    return {"instance_id": _instance(), "slept": seconds}


@get("/{svc:str}/big")
async def big(svc: str, size: int = 1_048_576) -> Stream:
    async def chunks() -> AsyncIterator[bytes]:
        left = size
        block = b"x" * 65_536
        while left > 0:
            yield block[: min(left, len(block))]
            left -= len(block)

    return Stream(chunks(), media_type="application/octet-stream")


@post("/{svc:str}/upload", status_code=200)
async def upload(request: Request[Any, Any, Any], svc: str) -> dict[str, Any]:
    digest = hashlib.sha256()
    length = 0
    async for chunk in request.stream():
        digest.update(chunk)
        length += len(chunk)
    return {"length": length, "sha256": digest.hexdigest(), "instance_id": _instance()}


@get("/{svc:str}/hop")
async def hop(svc: str) -> Response[dict[str, str]]:
    headers = {
        "Connection": "X-Upstream-Hop",
        "X-Upstream-Hop": "secret",
        "Keep-Alive": "timeout=5",
        "Proxy-Authenticate": "Basic",
        "X-End-To-End": "kept",
    }
    return Response({"ok": "yes"}, headers=headers)


@post("/control", status_code=200)
async def control(data: Control) -> dict[str, float]:
    _behaviour.update(status=data.status, delay=data.delay)
    return _behaviour


@get("/.well-known/jwks.json")
async def jwks() -> Response[bytes]:
    return Response(_JWKS, media_type="application/json")


def main() -> int:
    from shop.runtime.logs import configure_logging
    from shop.runtime.server import serve

    settings = Settings.from_environ(os.environ.get("UPSTREAM_SERVICE", "products"))
    app = create_service_app(
        settings,
        route_handlers=[flaky, unavailable, slow, big, upload, hop, echo, control, jwks],
        register=os.environ.get("UPSTREAM_REGISTER", "1") == "1",
    )
    configure_logging(settings.service, settings.instance_id, "WARNING")
    return serve(app, runtime_of(app).settings)


if __name__ == "__main__":
    raise SystemExit(main())
