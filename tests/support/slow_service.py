"""A real service process with a slow route, for graceful-shutdown tests:
`python -m tests.support.slow_service` (reads PORT, REDIS_URL, ... like any service)."""

from __future__ import annotations

import asyncio

from litestar import get
from litestar.params import FromQuery

from shop.runtime.logs import configure_logging
from shop.runtime.server import serve
from shop.runtime.service import create_service_app
from shop.runtime.settings import Settings


@get("/slow")
async def slow(seconds: FromQuery[float] = 1.0) -> dict[str, float]:
    await asyncio.sleep(seconds)
    return {"slept": seconds}


def main() -> int:
    settings = Settings.from_environ("slow")
    configure_logging(settings.service, settings.instance_id, settings.log_level)
    return serve(create_service_app(settings, route_handlers=[slow]), settings)


if __name__ == "__main__":
    raise SystemExit(main())
