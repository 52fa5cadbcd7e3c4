"""GCRA in this replica's memory: the fallback while Redis is down, and the local buckets that
reconcile with Redis in the background (`gateway.ratelimit` does the I/O). Pure: no Redis.

GCRA keeps one number per key, the theoretical arrival time (TAT): a request is allowed while
`TAT + interval - now <= interval * burst`, and moves TAT on by one interval.

`SharedBuckets` admits from a local bucket per key and counts what it admitted since the last
push (`pending`). Every sync period the limiter pushes those counts to Redis, which advances the
global TAT by `pending x interval` whatever it was (an admission already made is always paid
for) and answers with the global TAT; the local TAT then becomes that, plus what was admitted
meanwhile. A replica never admits more than `quota` requests of one key without pushing them:
past that it asks Redis for the request itself (`admit` answers None). So at any moment each
other replica holds at most `quota` admissions the others cannot see, and the cluster exceeds
`rate x T + burst` by at most `(replicas - 1) x quota` over any window (docs/gateway.md). A
local refusal needs no round trip: the global TAT is never below the local one, which is the
global one of the last sync plus this replica's own admissions since.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    per_second: float
    burst: int

    @property
    def interval_ms(self) -> float:
        return 1000.0 / self.per_second


@dataclass(slots=True)  # not frozen: a frozen one pays a setattr call per field, per request
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


def verdict(limit: Limit, tat: float, now: float) -> tuple[Decision, float | None]:
    """The decision for one request on a bucket at `tat` (ms), and the new TAT if allowed."""
    interval = limit.interval_ms
    tolerance = interval * limit.burst
    new_tat = (tat if tat > now else now) + interval
    wait = new_tat - tolerance - now
    if wait > 0:
        return Decision(False, limit.burst, 0, wait / 1000, (new_tat - interval - now) / 1000), None
    remaining = math.floor((tolerance - (new_tat - now)) / interval)
    return Decision(True, limit.burst, remaining, 0.0, (new_tat - now) / 1000), new_tat


class LocalGcra:
    """One replica's buckets, nothing shared: the fallback for limits checked in Redis."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self.tats: dict[str, float] = {}

    def check(self, key: str, limit: Limit) -> Decision:
        now = self.clock() * 1000
        decision, new_tat = verdict(limit, self.tats.get(key, now), now)
        if new_tat is not None:
            if len(self.tats) >= self.max_keys:
                self.tats = {k: v for k, v in self.tats.items() if v > now}
            self.tats[key] = new_tat
        return decision


class Bucket:
    __slots__ = ("flying", "key", "limit", "pending", "tat")

    def __init__(self, key: str, limit: Limit, tat: float) -> None:
        self.key = key
        self.limit = limit
        self.tat = tat  # ms on this replica's clock
        self.pending = 0  # admitted here, not yet pushed to Redis
        self.flying = 0  # pushed, Redis has not answered yet


class SharedBuckets:
    """The local half of a limit shared through Redis (see the module docstring)."""

    def __init__(
        self, share: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.share = share
        self.clock = clock
        self.max_keys = max_keys
        self.buckets: dict[str, Bucket] = {}

    def quota(self, limit: Limit) -> int:
        """Admissions of one key this replica may make without pushing them; 0: ask Redis."""
        return math.floor(limit.burst * self.share)

    def admit(self, key: str, limit: Limit, *, local_only: bool = False) -> Decision | None:
        """The local verdict, or None when the quota is spent: ask Redis (`pushed`, then
        `reconcile`). `local_only` (Redis is down) ignores the quota."""
        now = self.clock() * 1000
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self.max_keys:
                self.forget_idle(now)
            bucket = self.buckets[key] = Bucket(key, limit, now)
        decision, new_tat = verdict(limit, bucket.tat, now)
        if new_tat is None:
            return decision
        if bucket.pending + bucket.flying >= self.quota(limit) and not local_only:
            return None
        bucket.tat = new_tat
        if bucket.pending < limit.burst:  # more waits for Redis only after a long outage
            bucket.pending += 1
        return decision

    def pushed(self, key: str) -> int:
        """Take the key's pending admissions to push with a request Redis checks."""
        bucket = self.buckets[key]
        count, bucket.pending = bucket.pending, 0
        bucket.flying += count
        return count

    def drain(self) -> list[tuple[Bucket, int]]:
        """Every bucket with admissions to push, and how many; their counts restart at 0."""
        out = []
        for bucket in self.buckets.values():
            if bucket.pending:
                out.append((bucket, bucket.pending))
                bucket.flying += bucket.pending
                bucket.pending = 0
        self.forget_idle(self.clock() * 1000)
        return out

    def reconcile(self, key: str, count: int, backlog_ms: float) -> None:
        """Redis took `count` admissions and answered that the global TAT is `backlog_ms`
        past now. The local TAT follows it, plus what Redis has not seen from here yet (made
        since, or in another push still under way), up or down."""
        bucket = self.buckets.get(key)
        if bucket is not None:
            bucket.flying -= count
            unseen = bucket.pending + bucket.flying
            bucket.tat = self.clock() * 1000 + backlog_ms + unseen * bucket.limit.interval_ms

    def unpushed(self, key: str, count: int) -> None:
        """A push failed: keep the count for the next one (at most a burst, so a long outage
        never blocks a client for longer than an empty bucket takes to refill)."""
        bucket = self.buckets.get(key)
        if bucket is not None:
            bucket.flying -= count
            bucket.pending = min(bucket.pending + count, bucket.limit.burst)

    def forget_idle(self, now: float) -> None:
        self.buckets = {
            k: b for k, b in self.buckets.items() if b.pending or b.flying or b.tat > now
        }
