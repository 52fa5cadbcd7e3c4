"""Waiting for what happens some time later: one policy (poll, tolerate a not-yet, fail with the
last reason at the deadline) for synchronous tests and for async ones."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

import httpx

T = TypeVar("T")
NOT_YET = (AssertionError, httpx.HTTPError)  # a check may assert, or find the server not up yet


def eventually(check: Callable[[], T], within: float = 10.0, interval: float = 0.05) -> T:
    """The first truthy result of `check`; after `within` seconds, its last failure."""
    deadline = time.monotonic() + within
    while True:
        try:
            result = check()
            if result:
                return result
            error: BaseException = AssertionError(f"still {result!r} after {within} s")
        except NOT_YET as exc:
            error = exc
        if time.monotonic() > deadline:
            raise error
        time.sleep(interval)


@overload
async def eventually_async(
    check: Callable[[], Awaitable[T]], within: float = ..., interval: float = ...
) -> T: ...
@overload
async def eventually_async(
    check: Callable[[], T], within: float = ..., interval: float = ...
) -> T: ...
async def eventually_async(
    check: Callable[[], Any], within: float = 5.0, interval: float = 0.02
) -> Any:
    """`eventually` for a test on the event loop: `check` may be a coroutine function."""
    deadline = time.monotonic() + within
    while True:
        try:
            answer = check()
            result = await answer if inspect.isawaitable(answer) else answer
            if result:
                return result
            error: BaseException = AssertionError(f"still {result!r} after {within} s")
        except NOT_YET as exc:
            error = exc
        if time.monotonic() > deadline:
            raise error
        await asyncio.sleep(interval)
