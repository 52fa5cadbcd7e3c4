from __future__ import annotations

import random

import pytest

from gateway.retries import RetryBudget, backoff, idempotent


@pytest.mark.parametrize(
    ("method", "key", "expected"),
    [
        (b"GET", False, True),
        (b"HEAD", False, True),
        (b"PUT", False, True),
        (b"DELETE", False, True),
        (b"OPTIONS", False, True),
        (b"POST", False, False),
        (b"POST", True, True),
        (b"PATCH", False, False),
        (b"PATCH", True, False),
    ],
)
def test_only_idempotent_requests_are_retried(method: bytes, key: bool, expected: bool) -> None:
    assert idempotent(method, key) is expected


def test_the_budget_allows_at_most_a_fifth_extra_under_sustained_load() -> None:
    now = [0.0]
    budget = RetryBudget(ratio=0.2, min_per_second=0.0, ceiling=20, clock=lambda: now[0])
    budget.tokens = 0
    retries = 0

    for _ in range(1000):
        budget.deposit()
        if budget.withdraw():
            retries += 1

    assert retries == 200


def test_a_quiet_gateway_still_gets_a_few_retries_per_second() -> None:
    now = [0.0]
    budget = RetryBudget(ratio=0.2, min_per_second=5.0, ceiling=20, clock=lambda: now[0])

    spent = sum(budget.withdraw() for _ in range(20))
    now[0] += 1.0
    refilled = sum(budget.withdraw() for _ in range(20))

    assert spent == 5
    assert refilled == 5


def test_backoff_is_jittered_within_an_exponential_cap() -> None:
    rng = random.Random(1)
    waits = [backoff(3, 0.01, rng) for _ in range(200)]

    assert all(0 <= w <= 0.04 for w in waits)
    assert max(waits) > 0.03  # the cap doubles per attempt: 0.01, 0.02, 0.04
    assert all(backoff(1, 0.01, rng) <= 0.01 for _ in range(50))
    assert len(set(waits)) > 150
    assert backoff(30, 0.01, rng) <= 1.0
