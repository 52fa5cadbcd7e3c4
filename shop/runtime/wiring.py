"""The one wiring idiom of every composition root (cosmicpython's bootstrap):

    def create_app(settings=None, *, <test doubles>) -> Litestar:
        settings = settings or XSettings.from_environ()      # parsed once, frozen
        wired: Wired[Adapters] = Wired()
        async def start(runtime): wired.set(await bootstrap(settings, runtime, ...))
        return create_service_app(settings.runtime, startup=[start],
                                  dependencies=wired.provide("orders", "verifier"), ...)

`bootstrap` alone builds the adapters (it runs in the lifespan: no I/O at import or in
create_app) and returns them in one frozen `Adapters`; handlers get them by name.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from litestar.di import Provide

T = TypeVar("T")


class Wired(Generic[T]):
    """What the lifespan built, set once, for the handlers and hooks that need it."""

    def __init__(self) -> None:
        self._value: T | None = None

    def set(self, value: T) -> T:
        self._value = value
        return value

    def get(self) -> T:
        if self._value is None:
            raise RuntimeError("the app has not started: its adapters are built in the lifespan")
        return self._value

    def provide(self, *names: str) -> dict[str, Provide]:
        """A dependency per attribute of the adapters, for `create_service_app`."""
        return {name: Provide(self._getter(name), sync_to_thread=False) for name in names}

    def _getter(self, name: str) -> Any:
        def get() -> Any:
            return getattr(self.get(), name)

        return get
