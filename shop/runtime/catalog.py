"""The services this project ships, by name. Apps are referenced by import path, so the runtime
never imports a function or the gateway."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from litestar import Litestar

APPS: dict[str, str] = {
    "gateway": "gateway.app:create_app",
    "users": "functions.users.app:create_app",
    "products": "functions.products.app:create_app",
    "orders": "functions.orders.app:create_app",
    "notifications": "functions.notifications.app:create_app",
}
FUNCTIONS = ("users", "products", "orders", "notifications")


def app_factory(name: str, path: str | None = None) -> Callable[[], Litestar]:
    """The factory of service `name`, or the one at `path` ("module:attribute") if given."""
    if path is None:
        if name not in APPS:
            raise KeyError(f"unknown service {name!r}; choose from {', '.join(APPS)}")
        path = APPS[name]
    module, attribute = path.split(":")
    factory: Callable[[], Litestar] = getattr(importlib.import_module(module), attribute)
    return factory
