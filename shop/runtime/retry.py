"""The one retry policy: the wait before retry number n grows (exponentially or linearly) from
`first` up to `cap`, then is multiplied by a jitter factor drawn uniformly from `jitter`, so
that callers that failed together do not retry together.

A small dataclass rather than a library (stamina, tenacity): the loops that retry are not all
"call this function again": the outbox stores the next attempt's time in its table, the
registry listener and `shop up`'s supervisor retry forever and start over after a success, and
the service client moves to another instance on each attempt. They need the schedule, which
is these few lines; a decorator would fit one of them.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Literal

_rng = random.Random()  # noqa: S311 - jitter, not security


@dataclass(frozen=True, slots=True)
class Backoff:
    first: float
    cap: float
    growth: Literal["exponential", "linear"] = "exponential"
    jitter: tuple[float, float] = (0.8, 1.2)

    def delay(self, retry: int, rng: random.Random = _rng) -> float:
        """The wait before retry number `retry` (1 for the first retry)."""
        n = max(1, retry)
        grown = self.first * (2 ** (n - 1) if self.growth == "exponential" else n)
        low, high = self.jitter
        return min(self.cap, grown) * rng.uniform(low, high)

    async def sleep(self, retry: int) -> None:
        await asyncio.sleep(self.delay(retry))


class Retries:
    """A loop's failures in a row: `await failed()` waits the policy's delay for the next one;
    `succeeded()` starts over."""

    def __init__(self, policy: Backoff) -> None:
        self.policy = policy
        self.failures = 0

    def next_delay(self) -> float:
        self.failures += 1
        return self.policy.delay(self.failures)

    async def failed(self) -> None:
        await asyncio.sleep(self.next_delay())

    def succeeded(self) -> None:
        self.failures = 0
