"""When a failed upstream call may be tried again, and how long to wait first.

A retry goes only to another instance, only for idempotent requests, and only on a connection
error, a timeout before any response, or a 502/503/504. A budget bounds the extra load: every
request deposits `ratio` tokens (0.2: at most 20% extra), every retry spends one, and a small
reserve refills at `min_per_second` so a quiet gateway can still retry. No retry storms.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from shop.runtime.retry import Backoff

IDEMPOTENT = frozenset({b"GET", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"TRACE"})
RETRYABLE_STATUS = frozenset({502, 503, 504})


def idempotent(method: bytes, has_idempotency_key: bool) -> bool:
    return method in IDEMPOTENT or (method == b"POST" and has_idempotency_key)


class RetryBudget:
    __slots__ = ("_clock", "_refilled", "ceiling", "min_per_second", "ratio", "tokens")

    def __init__(
        self,
        *,
        ratio: float = 0.2,
        min_per_second: float = 5.0,
        ceiling: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ratio = ratio
        self.min_per_second = min_per_second
        self.ceiling = ceiling
        self.tokens = min(ceiling, min_per_second)
        self._clock = clock
        self._refilled = clock()

    def deposit(self) -> None:
        """One original request: earns `ratio` of a retry."""
        tokens = self.tokens + self.ratio
        self.tokens = tokens if tokens < self.ceiling else self.ceiling

    def withdraw(self) -> bool:
        """Spend a retry if the budget has one."""
        now = self._clock()
        elapsed = now - self._refilled
        if elapsed > 0:
            self._refilled = now
            self.tokens = min(self.ceiling, self.tokens + elapsed * self.min_per_second)
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


_rng = random.Random()  # noqa: S311 - jitter, not security


def backoff(attempt: int, base: float, rng: random.Random = _rng) -> float:
    """Full jitter: uniform in [0, base * 2**(attempt-1)], capped at 1 s (the one policy)."""
    return Backoff(base, 1.0, jitter=(0.0, 1.0)).delay(attempt, rng)
