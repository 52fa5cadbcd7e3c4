"""Reservations confirmed in batches. While one confirm call to products is in flight, the
orders placed meanwhile queue up and go together in the next one: one HTTP request and one
products transaction for all of them. Each placement still waits for its own answer before it
marks its order confirmed, so the steps, and what a crash leaves behind, are those of one call
per order; a lone order goes at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Send = Callable[[list[str]], Awaitable[dict[str, str | None]]]


class Confirmations:
    def __init__(self, send: Send, *, most: int = 100) -> None:
        self._send = send
        self.most = most
        self._queue: list[tuple[str, asyncio.Future[str | None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def confirm(self, order_id: str) -> str | None:
        """The reservation's state after the step: `confirmed` when done; None if products
        knows no such reservation. Raises what the call raised."""
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._queue.append((order_id, future))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        batch: list[tuple[str, asyncio.Future[str | None]]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.most], self._queue[self.most :]
                try:
                    states = await self._send([order_id for order_id, _ in batch])
                except Exception as exc:  # noqa: BLE001 - each waiter gets the error
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for order_id, future in batch:
                    if not future.done():
                        future.set_result(states.get(order_id))
                batch = []
        finally:
            self._flushing = None
            for _, future in batch:  # cancelled mid-call (shutdown): nobody waits forever
                if not future.done():
                    future.cancel()
