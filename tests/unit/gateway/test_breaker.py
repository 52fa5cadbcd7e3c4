from __future__ import annotations

from gateway.breaker import CircuitBreaker, State


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **options: float) -> tuple[CircuitBreaker, list[State]]:
    changes: list[State] = []
    settings = {"failures": 3, "rate": 0.5, "window": 10, "min_requests": 10, "open_for": 5}
    settings.update(options)
    made = CircuitBreaker(
        failures=int(settings["failures"]),
        rate=settings["rate"],
        window=settings["window"],
        min_requests=int(settings["min_requests"]),
        open_for=settings["open_for"],
        clock=clock,
        on_change=changes.append,
    )
    return made, changes


def test_consecutive_failures_open_the_breaker() -> None:
    clock = Clock()
    b, changes = breaker(clock)

    for _ in range(3):
        assert b.allow()
        b.record(False)

    assert b.state is State.OPEN
    assert not b.allow()
    assert changes == [State.OPEN]
    assert b.retry_after() == 5


def test_a_success_resets_the_consecutive_count() -> None:
    b, _ = breaker(Clock())

    for ok in (False, False, True, False, False):
        b.record(ok)

    assert b.state is State.CLOSED


def test_a_failure_rate_over_the_window_opens_the_breaker() -> None:
    clock = Clock()
    b, _ = breaker(clock, failures=100)

    for index in range(10):
        b.record(index % 2 == 0)  # alternate: never 100 in a row, but 50% failures
        clock.now += 0.5

    assert b.state is State.OPEN


def test_old_failures_fall_out_of_the_window() -> None:
    clock = Clock()
    b, _ = breaker(clock, failures=100)
    for _ in range(6):
        b.record(False)
    clock.now += 13  # past the 10 s window, in another second's bucket than the old failures

    for ok in (True,) * 8 + (False,) * 2:
        b.record(ok)

    assert b.state is State.CLOSED  # 2 of 10 failed; counting the old 6 would make 8 of 16


def test_failures_inside_the_window_still_count() -> None:
    clock = Clock()
    b, _ = breaker(clock, failures=100)
    for _ in range(6):
        b.record(False)
    clock.now += 7  # the same sequence as above, but the old failures are still in the window

    for ok in (True,) * 8 + (False,) * 2:
        b.record(ok)

    assert b.state is State.OPEN


def test_after_the_open_period_one_probe_goes_through_and_a_success_closes() -> None:
    clock = Clock()
    b, changes = breaker(clock)
    for _ in range(3):
        b.record(False)
    clock.now += 5

    assert b.available()
    assert b.allow()
    assert b.state is State.HALF_OPEN
    assert not b.allow()  # one probe at a time
    assert not b.available()
    b.record(True)

    assert changes == [State.OPEN, State.HALF_OPEN, State.CLOSED]
    assert b.available()


def test_a_failed_probe_opens_the_breaker_again_for_a_full_period() -> None:
    clock = Clock()
    b, _ = breaker(clock)
    for _ in range(3):
        b.record(False)
    clock.now += 5
    assert b.allow()

    b.record(False)

    assert b.state is State.OPEN
    assert b.trips == 2
    assert not b.allow()
    clock.now += 4.9
    assert not b.allow()
    clock.now += 0.1
    assert b.allow()  # the next probe


def test_a_probe_without_a_verdict_frees_the_slot() -> None:
    clock = Clock()
    b, _ = breaker(clock)
    for _ in range(3):
        b.record(False)
    clock.now += 5
    assert b.allow()

    b.release()

    assert b.allow()


def test_verdicts_of_calls_started_before_opening_are_ignored_while_open() -> None:
    b, _ = breaker(Clock())
    for _ in range(3):
        b.record(False)

    b.record(True)
    waited = b.retry_after()
    for _ in range(3):
        b.record(False)

    assert b.state is State.OPEN
    assert b.trips == 1  # a late failure does not open it again
    assert b.retry_after() == waited
