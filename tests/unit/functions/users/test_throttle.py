"""The failed-login throttle in memory (an instance without Redis)."""

from __future__ import annotations

import pytest

from functions.users.throttle import LoginThrottle
from shop.runtime.errors import TooManyRequests


def throttle(per_user: int = 3, per_client: int = 100, window: int = 60) -> LoginThrottle:
    return LoginThrottle(None, per_user=per_user, per_client=per_client, window=window)


async def test_a_username_is_refused_once_its_failures_reach_the_limit() -> None:
    guard = throttle(per_user=3)
    for client in ("10.0.0.1", "10.0.0.2"):
        await guard.failed("ann", client)
    await guard.check("ann", "10.0.0.3")  # two of three: still allowed

    await guard.failed("ann", "10.0.0.3")

    with pytest.raises(TooManyRequests) as refused:
        await guard.check("ann", "10.0.0.9")
    assert 30 < refused.value.retry_after <= 60  # what is left of the 60 s window, rounded up
    await guard.check("bob", "10.0.0.9")  # another name is not affected


async def test_a_client_is_refused_once_its_failures_reach_the_limit() -> None:
    guard = throttle(per_user=100, per_client=2)
    await guard.failed("ann", "10.0.0.1")
    await guard.check("zed", "10.0.0.1")
    await guard.failed("bob", "10.0.0.1")

    with pytest.raises(TooManyRequests):
        await guard.check("zed", "10.0.0.1")
    await guard.check("zed", "10.0.0.2")


async def test_a_successful_login_clears_the_username_but_not_the_client() -> None:
    guard = throttle(per_user=2, per_client=2)
    await guard.failed("ann", "10.0.0.1")
    await guard.failed("ann", "10.0.0.1")

    await guard.succeeded("ann")

    with pytest.raises(TooManyRequests):
        await guard.check("ann", "10.0.0.1")  # the client's two failures still count
    await guard.check("ann", "10.0.0.2")


async def test_failures_older_than_the_window_no_longer_count() -> None:
    guard = throttle(per_user=1, window=0)  # every failure is already outside the window

    await guard.failed("ann", "10.0.0.1")

    await guard.check("ann", "10.0.0.1")
