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
    "broker": "broker.app:create_app",  # local stand-in for the Knative Broker
}
FUNCTIONS = ("users", "products", "orders", "notifications")


def app_factory(name: str) -> Callable[[], Litestar]:
    if name not in APPS:
        raise KeyError(f"unknown service {name!r}; choose from {', '.join(APPS)}")
    module, attribute = APPS[name].split(":")
    factory: Callable[[], Litestar] = getattr(importlib.import_module(module), attribute)
    return factory
