from __future__ import annotations

import pytest

from tests.support.polling import eventually, eventually_async


def test_eventually_returns_the_first_truthy_result_after_not_yets() -> None:
    answers = iter([0, AssertionError("not yet"), None, "ready", "later"])

    def check() -> object:
        answer = next(answers)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    assert eventually(check, within=5, interval=0) == "ready"


def test_eventually_fails_with_the_last_reason_at_the_deadline() -> None:
    def check() -> bool:
        raise AssertionError("the instance never registered")

    with pytest.raises(AssertionError, match="never registered"):
        eventually(check, within=0.05, interval=0.01)
    with pytest.raises(AssertionError, match="still False"):
        eventually(lambda: False, within=0.05, interval=0.01)


def test_an_error_that_is_not_a_not_yet_stops_at_once() -> None:
    calls: list[int] = []

    def check() -> bool:
        calls.append(1)
        raise KeyError("a bug in the check")

    with pytest.raises(KeyError):
        eventually(check, within=5, interval=0)
    assert calls == [1]


async def test_eventually_async_awaits_a_coroutine_check() -> None:
    answers = iter([False, False, True])

    async def check() -> bool:
        return next(answers)

    assert await eventually_async(check, within=5, interval=0) is True
    assert await eventually_async(lambda: 7, within=5, interval=0) == 7
    with pytest.raises(AssertionError, match="still 0"):
        await eventually_async(lambda: 0, within=0.05, interval=0.01)
