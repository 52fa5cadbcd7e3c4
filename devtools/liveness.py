"""Kubernetes' liveness probe, for `shop up`: an instance whose `/health` stops answering (hung,
SIGSTOPped, deadlocked) is killed, and its supervisor restarts it as it restarts a crash.

Like a kubelet with a startup probe: failures count only once the instance has answered once
(or is known `ready`), so a slow start is not killed, unless it never answers within `startup`
seconds; then `failures` probes in a row of `timeout` seconds each, `period` seconds apart, and
SIGTERM, and SIGKILL after `grace` (a stopped process takes only SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import httpx


@dataclass(frozen=True, slots=True)
class Liveness:
    period: float = 2.0
    timeout: float = 1.0
    failures: int = 3
    grace: float = 2.0
    startup: float = 60.0

    async def wait(
        self,
        url: str,
        process: asyncio.subprocess.Process,
        on_kill: Callable[[int], None],
        stopping: Callable[[], bool] = lambda: False,
        *,
        ready: bool = False,
    ) -> int:
        """Wait for `process` to exit, killing it first if it fails its probes; its exit code.
        No probe counts while `stopping()` (a process stopped on purpose drains in peace)."""
        exited = asyncio.ensure_future(process.wait())
        try:
            live_once, failed = ready, 0
            deadline = asyncio.get_running_loop().time() + self.startup
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                while True:
                    done, _ = await asyncio.wait({exited}, timeout=self.period)
                    if done:
                        return exited.result()
                    if stopping():
                        continue
                    live = await _answers(client, f"{url}/health")
                    live_once = live_once or live
                    failed = 0 if live or not live_once else failed + 1
                    never = not live_once and asyncio.get_running_loop().time() > deadline
                    if failed >= self.failures or never:
                        on_kill(failed)
                        return await self._kill(process, exited)
        finally:
            exited.cancel()

    async def _kill(self, process: asyncio.subprocess.Process, exited: asyncio.Future[int]) -> int:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        done, _ = await asyncio.wait({exited}, timeout=self.grace)
        if not done:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        return await exited


async def _answers(client: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await client.get(url)).status_code == 200
    except httpx.HTTPError:
        return False
