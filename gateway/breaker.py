"""A per-instance circuit breaker: closed -> open -> half-open -> closed.

It opens after `failures` consecutive failures, or when the failure rate over a rolling window
of `window` seconds reaches `rate` with at least `min_requests` calls in it. Open, it refuses
calls for `open_for` seconds, then lets one probe through at a time (half-open): a success
closes it, a failure opens it again.

Written here rather than taken from a library: aiobreaker's last release is from 2021,
pybreaker wraps calls synchronously (its async support is Tornado-only) and purgatory has no
failure-rate window. The gateway's hot path needs two cheap calls, `allow()` before and
`record()` after, and a state it can show in `/registry`; that is about 100 lines.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

Clock = Callable[[], float]


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    __slots__ = (
        "_buckets",
        "_clock",
        "_opened_at",
        "_probing",
        "consecutive",
        "failures",
        "min_requests",
        "on_change",
        "open_for",
        "rate",
        "state",
        "trips",
        "window",
    )

    def __init__(
        self,
        *,
        failures: int = 5,
        rate: float = 0.5,
        window: float = 10.0,
        min_requests: int = 20,
        open_for: float = 5.0,
        clock: Clock = time.monotonic,
        on_change: Callable[[State], None] | None = None,
    ) -> None:
        self.failures = failures
        self.rate = rate
        self.window = window
        self.min_requests = min_requests
        self.open_for = open_for
        self.on_change = on_change
        self.state = State.CLOSED
        self.consecutive = 0
        self.trips = 0
        self._clock = clock
        self._opened_at = 0.0
        self._probing = False
        # One bucket per second of the window: [second, calls, failures].
        self._buckets: list[list[int]] = [[-1, 0, 0] for _ in range(max(1, int(window)))]

    def allow(self) -> bool:
        """May a call go through now? In half-open, only one probe at a time does."""
        state = self.state
        if state is State.CLOSED:
            return True
        if state is State.OPEN:
            if self._clock() - self._opened_at < self.open_for:
                return False
            self._set(State.HALF_OPEN)
        if self._probing:
            return False
        self._probing = True
        return True

    def available(self) -> bool:
        """Would `allow()` let a call through? Changes nothing."""
        if self.state is State.CLOSED:
            return True
        if self.state is State.OPEN:
            return self._clock() - self._opened_at >= self.open_for
        return not self._probing

    def retry_after(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when not open)."""
        if self.state is not State.OPEN:
            return 0.0
        return max(0.0, self.open_for - (self._clock() - self._opened_at))

    def record(self, ok: bool) -> None:
        if self.state is State.HALF_OPEN:
            self._probing = False
            if ok:
                self.consecutive = 0
                self._reset_window()
                self._set(State.CLOSED)
            else:
                self._trip()
            return
        if self.state is State.OPEN:
            return  # a call that started before the breaker opened
        bucket = self._bucket()
        bucket[1] += 1
        if ok:
            self.consecutive = 0
            return
        bucket[2] += 1
        self.consecutive += 1
        if self.consecutive >= self.failures or self._rate_exceeded():
            self._trip()

    def eject(self) -> None:
        """The instance is hung (no answer to a health probe): open now, whatever the counts."""
        self._probing = False
        if self.state is not State.OPEN:
            self._trip()

    def release(self) -> None:
        """A call let through ended without a verdict (cancelled): free the probe slot."""
        self._probing = False

    def _trip(self) -> None:
        self._opened_at = self._clock()
        self.trips += 1
        self._set(State.OPEN)

    def _set(self, state: State) -> None:
        if state is not self.state:
            self.state = state
            if self.on_change is not None:
                self.on_change(state)

    def _bucket(self) -> list[int]:
        second = int(self._clock())
        bucket = self._buckets[second % len(self._buckets)]
        if bucket[0] != second:
            bucket[0], bucket[1], bucket[2] = second, 0, 0
        return bucket

    def _rate_exceeded(self) -> bool:
        oldest = int(self._clock()) - len(self._buckets)
        calls = failed = 0
        for second, n, bad in self._buckets:
            if second > oldest:
                calls += n
                failed += bad
        return calls >= self.min_requests and failed >= self.rate * calls

    def _reset_window(self) -> None:
        for bucket in self._buckets:
            bucket[0], bucket[1], bucket[2] = -1, 0, 0
