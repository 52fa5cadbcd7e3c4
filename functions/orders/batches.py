"""Calls to products in batches. While one call is in flight, the requests of the orders
placed meanwhile queue up and go together in the next one: one HTTP request (and, for
confirms, one products transaction) for all of them. Each placement still waits for its own
answer before its next step, so the steps, and what a crash leaves behind, are those of one
call per order; a lone request goes at once. A batch's call runs in the context of its first
request (its request id, its trace), so a lone request's call is traced as if unbatched."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batched(Generic[T, R]):
    """`send` takes a batch of requests and returns their answers, in the same order."""

    def __init__(
        self, send: Callable[[list[T]], Coroutine[Any, Any, list[R]]], *, most: int = 50
    ) -> None:
        self._send = send
        self.most = most
        self._queue: list[tuple[T, asyncio.Future[R], contextvars.Context]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def __call__(self, request: T) -> R:
        """The request's answer; raises what its batch's call raised."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future, contextvars.copy_context()))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush(), context=contextvars.Context())
        return await future

    async def _flush(self) -> None:
        batch: list[tuple[T, asyncio.Future[R], contextvars.Context]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.most], self._queue[self.most :]
                try:
                    call = self._send([request for request, _, _ in batch])
                    answers = await asyncio.create_task(call, context=batch[0][2])
                    if len(answers) != len(batch):
                        raise ValueError("a batch's answers do not match its requests")
                except Exception as exc:  # noqa: BLE001 - each waiter gets the error
                    for _, future, _ in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future, _), answer in zip(batch, answers, strict=False):
                    if not future.done():
                        future.set_result(answer)
                batch = []
        finally:
            self._flushing = None
            for _, future, _ in batch:  # cancelled mid-call (shutdown): nobody waits forever
                if not future.done():
                    future.cancel()
