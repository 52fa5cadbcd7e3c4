"""The upstream of the gateway benchmark: a function-shaped app on the shared runtime that
answers `GET /products/items` with a small JSON document (after `BENCH_DELAY_MS`, if set)."""

from __future__ import annotations

import asyncio
import os

from litestar import get

from shop.runtime.logs import configure_logging
from shop.runtime.server import serve
from shop.runtime.service import create_service_app, runtime_of
from shop.runtime.settings import Settings

DELAY = float(os.environ.get("BENCH_DELAY_MS", "0")) / 1000
ITEMS = [
    {"id": f"p{i}", "name": f"Product {i}", "price": {"amount": 1999, "currency": "EUR"}}
    for i in range(3)
]


@get("/products/items")
async def items() -> dict[str, object]:
    if DELAY:
        await asyncio.sleep(DELAY)
    return {"items": ITEMS, "next_cursor": None}


def main() -> int:
    settings = Settings.from_environ("products")
    app = create_service_app(settings, route_handlers=[items])
    configure_logging(settings.service, settings.instance_id, "WARNING")
    return serve(app, runtime_of(app).settings)


if __name__ == "__main__":
    raise SystemExit(main())
