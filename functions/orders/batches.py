"""Calls to products in batches. While one call is in flight, the requests of the orders
placed meanwhile queue up and go together in the next one: one HTTP request (and, for
confirms, one products transaction) for all of them. Each placement still waits for its own
answer before its next step, so the steps, and what a crash leaves behind, are those of one
call per order; a lone request goes at once."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batched(Generic[T, R]):
    """`send` takes a batch of requests and returns their answers, in the same order."""

    def __init__(self, send: Callable[[list[T]], Awaitable[list[R]]], *, most: int = 50) -> None:
        self._send = send
        self.most = most
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def __call__(self, request: T) -> R:
        """The request's answer; raises what its batch's call raised."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._flushing is None:
            # a fresh context: a batch belongs to no one request (no request id, no parent span)
            self._flushing = asyncio.create_task(self._flush(), context=contextvars.Context())
        return await future

    async def _flush(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.most], self._queue[self.most :]
                try:
                    answers = await self._send([request for request, _ in batch])
                    if len(answers) != len(batch):
                        raise ValueError("a batch's answers do not match its requests")
                except Exception as exc:  # noqa: BLE001 - each waiter gets the error
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), answer in zip(batch, answers, strict=False):
                    if not future.done():
                        future.set_result(answer)
                batch = []
        finally:
            self._flushing = None
            for _, future in batch:  # cancelled mid-call (shutdown): nobody waits forever
                if not future.done():
                    future.cancel()
