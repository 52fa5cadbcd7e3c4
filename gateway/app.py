"""The gateway's composition root."""

from __future__ import annotations

from litestar import Litestar

from shop.service import create_service_app
from shop.settings import Settings


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_environ("gateway")
    return create_service_app(settings)
