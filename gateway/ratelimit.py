"""Rate limits shared by every gateway replica: GCRA in one atomic Lua script on Redis.

GCRA keeps one number per key, the theoretical arrival time (TAT): a request is allowed while
`TAT + interval - now <= interval * burst`, and moves TAT on by one interval. It needs no
background refill and the key expires when the client goes quiet.

If Redis is unreachable, reads (GET, HEAD, OPTIONS) fail open: availability of the catalogue
matters more than a limit no one can check, and `gateway_ratelimit_fail_open_total` says it
happened. Everything else (writes and `/auth/token`) falls back to the same limits kept in this
replica's memory, so a login flood stays bounded without taking orders down. After a failure
Redis is left alone for a second, so an outage never adds a timeout to each request.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.exceptions import NoScriptError

if TYPE_CHECKING:
    from redis.asyncio import Redis

# KEYS: the key   ARGV: interval ms, burst   -> {allowed, remaining, retry_after ms, reset ms}
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - tolerance - now
if wait > 0 then
  return {0, 0, math.ceil(wait), math.ceil(tat - now)}
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1)
return {1, math.floor((tolerance - (new_tat - now)) / interval), 0, math.ceil(new_tat - now)}
"""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    per_second: float
    burst: int

    @property
    def interval_ms(self) -> float:
        return 1000.0 / self.per_second


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: float  # seconds
    reset: float  # seconds until the bucket is full again

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(max(0, self.remaining)).encode()),
            (b"ratelimit-reset", str(math.ceil(self.reset)).encode()),
        ]


class LocalGcra:
    """The same algorithm in memory: the per-replica fallback while Redis is down."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self.tats: dict[str, float] = {}

    def check(self, key: str, limit: Limit) -> Decision:
        now = self.clock() * 1000
        interval = limit.interval_ms
        tolerance = interval * limit.burst
        tat = max(self.tats.get(key, now), now)
        new_tat = tat + interval
        wait = new_tat - tolerance - now
        if wait > 0:
            return Decision(False, limit.burst, 0, wait / 1000, (tat - now) / 1000)
        if len(self.tats) >= self.max_keys:
            self.tats = {k: v for k, v in self.tats.items() if v > now}
        self.tats[key] = new_tat
        remaining = math.floor((tolerance - (new_tat - now)) / interval)
        return Decision(True, limit.burst, remaining, 0.0, (new_tat - now) / 1000)


class _Batch:
    """Runs the script for every check of one event-loop turn in one pipelined round trip:
    under load one Redis call serves many requests; alone, a check is a plain EVALSHA."""

    def __init__(self, redis: Redis, source: str) -> None:
        self.redis = redis
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - how Redis names scripts
        self._pending: list[tuple[str, list[Any], asyncio.Future[Any]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, key: str, args: list[Any]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((key, args, future))
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[str, list[Any], asyncio.Future[Any]]]) -> None:
        try:
            replies = await self._execute(batch)
            if any(isinstance(r, NoScriptError) for r in replies):  # Redis restarted or flushed
                await self.redis.script_load(self.source)
                replies = await self._execute(batch)
        except Exception as exc:  # noqa: BLE001 - every waiting check gets the failure
            replies = [exc] * len(batch)
        for (_, _, future), reply in zip(batch, replies, strict=True):
            if future.done():  # the request went away meanwhile
                continue
            if isinstance(reply, BaseException):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _execute(self, batch: list[tuple[str, list[Any], asyncio.Future[Any]]]) -> list[Any]:
        if len(batch) == 1:
            key, args, _ = batch[0]
            try:
                return [await self.redis.evalsha(self.sha, 1, key, *args)]
            except NoScriptError as exc:
                return [exc]
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, args, _ in batch:
                pipe.evalsha(self.sha, 1, key, *args)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
            return replies


class RateLimiter:
    def __init__(
        self,
        redis: Redis,
        *,
        on_fail_open: Callable[[], None] = lambda: None,
        on_redis_error: Callable[[], None] = lambda: None,
        pause: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.batch = _Batch(redis, _GCRA)
        self.local = LocalGcra(clock)
        self.on_fail_open = on_fail_open
        self.on_redis_error = on_redis_error
        self.pause = pause
        self.clock = clock
        self._down_until = 0.0

    async def check(self, key: str, limit: Limit, method: str) -> Decision | None:
        """The verdict for one request; None when it passes unchecked (Redis down, a read)."""
        if self.clock() >= self._down_until:
            try:
                reply = await self.batch.run(
                    f"ratelimit:{limit.name}:{{{key}}}", [f"{limit.interval_ms:.6f}", limit.burst]
                )
            except Exception:  # noqa: BLE001 - any Redis failure: fall back below
                self._down_until = self.clock() + self.pause
                self.on_redis_error()
            else:
                allowed, remaining, wait_ms, reset_ms = (int(x) for x in reply)
                return Decision(
                    bool(allowed), limit.burst, remaining, wait_ms / 1000, reset_ms / 1000
                )
        if method in SAFE_METHODS and limit.name != "auth":
            self.on_fail_open()
            return None
        return self.local.check(f"{limit.name}:{key}", limit)
