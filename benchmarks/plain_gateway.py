"""The gateway served by uvicorn's own httptools protocol, without the hardening limits
(`shop.runtime.http_limits`): the benchmark's row that prices those limits. Never deployed.

Run as `python -m benchmarks.plain_gateway`, with the environment of `shop serve gateway`.
"""

from __future__ import annotations

from typing import Literal

from devtools.cli import main
from shop.runtime import server
from shop.runtime.settings import Settings


def plain(settings: Settings) -> Literal["httptools"]:
    return "httptools"


if __name__ == "__main__":
    server._http = plain  # type: ignore[assignment]  # a benchmark's stand-in, never shipped
    raise SystemExit(main(["serve", "gateway"]))
