"""Rate limits shared by every gateway replica, held in Redis with GCRA (`gateway.gcra`).

Two ways to share a limit, chosen by its size:

- Synced (a limit whose burst gives a quota, `RATE_LIMIT_LOCAL_SHARE x burst`, of at least one):
  each replica admits from its own bucket per client and, every `RATE_LIMIT_SYNC_SECONDS`, pushes
  what it admitted per key to Redis in one pipelined round trip, then moves its bucket to the
  global one. No request waits on Redis, unless one replica has admitted a whole quota of one
  client since its last sync: that request is checked in Redis (its count pushed with it).
- Exact (the login limit, `rate_limit: auth`, and any limit too small for a quota): every request
  is one atomic Lua call, batched with the other checks of its event-loop turn. Logins are few,
  each costs an argon2 hash at users far above the round trip, and a brute-force limit should
  not give each replica a quota of guesses.

If Redis is unreachable, synced limits go on from the local buckets (each replica then enforces
the limit alone, quota or not; the counts are pushed when Redis is back). For exact limits,
reads (GET, HEAD, OPTIONS) fail open (`gateway_ratelimit_decisions_total{decision="fail_open"}`),
and everything else (writes and `/auth/token`) falls back to the same limits kept in this
replica's memory, so a login flood stays bounded without taking orders down. After a failure
Redis is left alone for a second, so an outage never adds a timeout to each request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redis.exceptions import NoScriptError

from gateway.gcra import Decision, Limit, LocalGcra, SharedBuckets

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("gateway")
# KEYS: the key   ARGV: interval ms, burst, admissions to charge, "1" to check one request
#   -> {allowed, remaining, retry_after ms, reset ms (the global TAT, from now)}
# Charged admissions move the TAT on whatever it was: they were made (by one replica, from its
# own bucket) and are paid for by later refusals, which keeps the long-run rate exact.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local charged = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
tat = tat + interval * charged
local allowed, wait = 1, 0
if ARGV[4] == '1' then
  wait = tat + interval - tolerance - now
  if wait > 0 then allowed = 0 else tat = tat + interval end
end
if charged > 0 or (allowed == 1 and ARGV[4] == '1') then
  redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1)
end
if allowed == 0 then
  return {0, 0, math.ceil(wait), math.ceil(tat - now)}
end
return {1, math.floor((tolerance - (tat - now)) / interval), 0, math.ceil(tat - now)}
"""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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

    async def many(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Every call in one round trip now: a reply or an exception each."""
        try:
            replies = await self._execute(calls)
            if any(isinstance(r, NoScriptError) for r in replies):  # Redis restarted or flushed
                await self.redis.script_load(self.source)
                replies = await self._execute(calls)
        except Exception as exc:  # noqa: BLE001 - every call gets the failure
            replies = [exc] * len(calls)
        return replies

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[str, list[Any], asyncio.Future[Any]]]) -> None:
        replies = await self.many([(key, args) for key, args, _ in batch])
        for (_, _, future), reply in zip(batch, replies, strict=True):
            if future.done():  # the request went away meanwhile
                continue
            if isinstance(reply, BaseException):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _execute(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        if len(calls) == 1:
            key, args = calls[0]
            try:
                return [await self.redis.evalsha(self.sha, 1, key, *args)]
            except NoScriptError as exc:
                return [exc]
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, args in calls:
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
        sync_seconds: float = 0.2,
        local_share: float = 0.1,
        exact: frozenset[str] = frozenset({"auth"}),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.batch = _Batch(redis, _GCRA)
        self.local = LocalGcra(clock)
        self.shared = SharedBuckets(local_share, clock)
        self.on_fail_open = on_fail_open
        self.on_redis_error = on_redis_error
        self.pause = pause
        self.sync_seconds = sync_seconds
        self.exact = exact  # limits every request of which Redis checks
        self.clock = clock
        self._down_until = 0.0

    async def check(self, key: str, limit: Limit, method: str) -> Decision | None:
        """The verdict for one request; None when it passes unchecked (Redis down, a read)."""
        name = f"ratelimit:{limit.name}:{{{key}}}"
        synced = limit.name not in self.exact and self.shared.quota(limit) > 0
        if synced:
            up = self.clock() >= self._down_until
            decision = self.shared.admit(name, limit, local_only=not up)
            if decision is not None:
                return decision
        if self.clock() >= self._down_until:
            charged = self.shared.pushed(name) if synced else 0
            try:
                reply = await self.batch.run(
                    name, [f"{limit.interval_ms:.6f}", limit.burst, charged, "1"]
                )
            except Exception:  # noqa: BLE001 - any Redis failure: fall back below
                self._failed()
                if synced:
                    self.shared.unpushed(name, charged)
            else:
                allowed, remaining, wait_ms, reset_ms = (int(x) for x in reply)
                if synced:
                    self.shared.reconcile(name, charged, reset_ms)
                return Decision(
                    bool(allowed), limit.burst, remaining, wait_ms / 1000, reset_ms / 1000
                )
        if synced:
            found = self.shared.admit(name, limit, local_only=True)
            assert found is not None
            return found
        if method in SAFE_METHODS and limit.name != "auth":
            self.on_fail_open()
            return None
        return self.local.check(f"{limit.name}:{key}", limit)

    async def sync(self) -> int:
        """Push every key's admissions since the last sync in one round trip and follow the
        global buckets; how many keys were pushed."""
        if self.clock() < self._down_until:
            return 0
        drained = self.shared.drain()
        if not drained:
            return 0
        calls = [
            (bucket.key, [f"{bucket.limit.interval_ms:.6f}", bucket.limit.burst, count, "0"])
            for bucket, count in drained
        ]
        replies = await self.batch.many(calls)
        failed = False
        for (bucket, count), reply in zip(drained, replies, strict=True):
            if isinstance(reply, BaseException):
                failed = True
                self.shared.unpushed(bucket.key, count)
            else:
                self.shared.reconcile(bucket.key, count, int(reply[3]))
        if failed:
            self._failed()
        return len(drained)

    async def run(self) -> None:
        """The background sync, every `sync_seconds` (the runtime starts and stops it)."""
        while True:
            await asyncio.sleep(self.sync_seconds)
            try:
                await self.sync()
            except Exception:  # a bug, not Redis (`sync` takes those): keep limiting anyway
                log.exception("rate-limit sync failed")

    def _failed(self) -> None:
        self._down_until = self.clock() + self.pause
        self.on_redis_error()
