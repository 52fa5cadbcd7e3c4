from __future__ import annotations

import random

import pytest

from shop.runtime.retry import Backoff, Retries


def test_exponential_waits_double_from_the_first_up_to_the_cap_within_the_jitter() -> None:
    policy = Backoff(first=0.1, cap=1.0)
    rng = random.Random(7)

    assert all(0.08 <= policy.delay(1, rng) <= 0.12 for _ in range(100))
    assert all(0.32 <= policy.delay(3, rng) <= 0.48 for _ in range(100))
    assert all(0.8 <= policy.delay(30, rng) <= 1.2 for _ in range(100))


def test_linear_waits_grow_by_the_first_each_retry() -> None:
    policy = Backoff(first=0.05, cap=10.0, growth="linear", jitter=(1.0, 1.0))

    assert [policy.delay(n) for n in (1, 2, 3)] == pytest.approx([0.05, 0.1, 0.15])


def test_waits_are_jittered_so_callers_that_failed_together_spread_out() -> None:
    rng = random.Random(1)
    waits = [Backoff(first=0.01, cap=1.0, jitter=(0.0, 1.0)).delay(3, rng) for _ in range(200)]

    assert all(0 <= w <= 0.04 for w in waits)
    assert len(set(waits)) > 150


def test_a_success_starts_the_schedule_over() -> None:
    retries = Retries(Backoff(first=1.0, cap=30.0, jitter=(1.0, 1.0)))

    assert [retries.next_delay() for _ in range(4)] == [1.0, 2.0, 4.0, 8.0]
    retries.succeeded()
    assert retries.next_delay() == 1.0
