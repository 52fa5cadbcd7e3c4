"""Failed logins, counted per username and per client in fixed windows (Redis when the
instance has it, so every replica shares the count; memory otherwise)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from shop.runtime.errors import TooManyRequests

if TYPE_CHECKING:
    from redis.asyncio import Redis

PREFIX = "{shop}:login-failures"


class LoginThrottle:
    def __init__(self, redis: Redis | None, *, per_user: int, per_client: int, window: int) -> None:
        self.redis = redis
        self.limits = {"user": per_user, "client": per_client}
        self.window = window
        self._memory: dict[str, tuple[int, float]] = {}

    async def check(self, username: str, client: str) -> None:
        """`TooManyRequests` while either count is over its limit."""
        for kind, key in (("user", username), ("client", client)):
            count, retry_after = await self._count(f"{PREFIX}:{kind}:{key}")
            if count >= self.limits[kind]:
                raise TooManyRequests(
                    "Too many failed logins; try again later.", retry_after=max(1, retry_after)
                )

    async def failed(self, username: str, client: str) -> None:
        for kind, key in (("user", username), ("client", client)):
            await self._increment(f"{PREFIX}:{kind}:{key}")

    async def succeeded(self, username: str) -> None:
        key = f"{PREFIX}:user:{username}"
        if self.redis is not None:
            await self._quiet_redis(self.redis.delete(key))
        self._memory.pop(key, None)

    async def _count(self, key: str) -> tuple[int, int]:
        if self.redis is not None:
            shared = await self._shared_count(key)
            if shared is not None:
                return shared
        count, start = self._memory.get(key, (0, 0.0))
        left = self.window - (time.monotonic() - start)
        return (count, int(left) + 1) if left > 0 else (0, self.window)

    async def _shared_count(self, key: str) -> tuple[int, int] | None:
        assert self.redis is not None
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.get(key)
            pipe.ttl(key)
            raw, ttl = await pipe.execute()
        except Exception:  # noqa: BLE001 - Redis down: fall back to this instance's count
            return None
        return int(raw or 0), int(ttl if ttl and ttl > 0 else self.window)

    async def _increment(self, key: str) -> None:
        if self.redis is not None:
            pipe = self.redis.pipeline(transaction=True)
            pipe.incr(key)
            pipe.expire(key, self.window, nx=True)
            if await self._quiet_redis(pipe.execute()):
                return
        count, start = self._memory.get(key, (0, 0.0))
        now = time.monotonic()
        if now - start >= self.window:
            count, start = 0, now
        self._memory[key] = (count + 1, start)

    async def _quiet_redis(self, pending: object) -> bool:
        try:
            await pending  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - the throttle degrades to memory, logins go on
            return False
        return True
