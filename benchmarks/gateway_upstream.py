"""The upstream of the gateway benchmark: a function-shaped app on the shared runtime that
answers `GET /<service>/items` with a small JSON document (after `BENCH_DELAY_MS`, if set).

It registers as `BENCH_SERVICE` (default products, a public route at the gateway; orders
needs a bearer token there). With `BENCH_JWKS_FILE` it also serves that key set at
`/.well-known/jwks.json`, for a gateway whose `JWKS_URL` points here.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from litestar import Response, get

from shop.runtime.logs import configure_logging
from shop.runtime.server import serve
from shop.runtime.service import create_service_app, runtime_of
from shop.runtime.settings import Settings

DELAY = float(os.environ.get("BENCH_DELAY_MS", "0")) / 1000
ITEMS = [
    {"id": f"p{i}", "name": f"Product {i}", "price": {"amount": 1999, "currency": "EUR"}}
    for i in range(3)
]


async def items() -> dict[str, object]:
    if DELAY:
        await asyncio.sleep(DELAY)
    return {"items": ITEMS, "next_cursor": None}


def handlers(service: str, jwks_file: str | None) -> list[Any]:
    found: list[Any] = [get(f"/{service}/items")(items)]
    if jwks_file:
        document = Path(jwks_file).read_bytes()

        @get("/.well-known/jwks.json")
        async def jwks() -> Response[bytes]:
            return Response(document, media_type="application/json")

        found.append(jwks)
    return found


def main() -> int:
    service = os.environ.get("BENCH_SERVICE", "products")
    settings = Settings.from_environ(service)
    app = create_service_app(
        settings, route_handlers=handlers(service, os.environ.get("BENCH_JWKS_FILE"))
    )
    configure_logging(settings.service, settings.instance_id, "WARNING")
    return serve(app, runtime_of(app).settings)


if __name__ == "__main__":
    raise SystemExit(main())
