"""The error hierarchy every service raises. Pure: `shop.runtime.problems` maps it to HTTP."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class ShopError(Exception):
    """Base of every error a service raises on purpose. `kind` picks the HTTP mapping."""

    kind = "internal"
    title = "Internal error"

    def __init__(self, detail: str = "", *, extra: dict[str, object] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra or {}


class InvalidInput(ShopError):
    kind = "invalid"
    title = "Invalid input"

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []


class NotFound(ShopError):
    kind = "not_found"
    title = "Not found"


class Conflict(ShopError):
    kind = "conflict"
    title = "Conflict"


class Unauthenticated(ShopError):
    kind = "unauthenticated"
    title = "Unauthorized"


class Forbidden(ShopError):
    kind = "forbidden"
    title = "Forbidden"


class UnsupportedMediaType(ShopError):
    kind = "unsupported_media_type"
    title = "Unsupported media type"


class TooManyRequests(ShopError):
    kind = "rate_limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(ShopError):
    kind = "unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str, *, retry_after: int = 1, failure: str = "dependency") -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.failure = failure  # "dependency" (something it needs is down) or "shedding"
