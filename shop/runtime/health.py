"""Named health checks and the instance's lifecycle state. Pure: no web framework here."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Check = Callable[[], Awaitable[object]]
"""A check answers by returning; it fails by raising (or by not answering in time)."""


class Phase(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    DRAINING = "draining"


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    error: str | None = None


class Health:
    def __init__(self, *, timeout: float = 2.0) -> None:
        self.timeout = timeout
        self.phase = Phase.STARTING
        self._checks: dict[str, tuple[Check, bool]] = {}

    def add_check(self, name: str, check: Check, *, liveness: bool = True) -> None:
        """Register a check. Every check gates readiness and the registry heartbeat;
        `liveness=False` keeps a dependency (a database, say) out of `/health`, so an outage
        there takes the instance out of rotation without making Kubernetes restart it."""
        self._checks[name] = (check, liveness)

    def mark_running(self) -> None:
        if self.phase is Phase.STARTING:
            self.phase = Phase.RUNNING

    def begin_shutdown(self) -> None:
        self.phase = Phase.DRAINING

    @property
    def draining(self) -> bool:
        return self.phase is Phase.DRAINING

    async def liveness(self) -> Verdict:
        return await self._run([(n, c) for n, (c, live) in self._checks.items() if live])

    async def checks(self) -> Verdict:
        return await self._run([(n, c) for n, (c, _) in self._checks.items()])

    async def readiness(self) -> Verdict:
        if self.phase is not Phase.RUNNING:
            return Verdict(False, self.phase.value)
        return await self.checks()

    async def _run(self, checks: list[tuple[str, Check]]) -> Verdict:
        if not checks:
            return Verdict(True)
        results = await asyncio.gather(
            *(self._one(name, check) for name, check in checks), return_exceptions=False
        )
        errors = [error for error in results if error is not None]
        return Verdict(not errors, "; ".join(errors) or None)

    async def _one(self, name: str, check: Check) -> str | None:
        try:
            async with asyncio.timeout(self.timeout):
                await check()
        except TimeoutError:
            return f"health check '{name}' timed out after {self.timeout:g}s"
        except Exception as exc:  # noqa: BLE001 - a failing check is an answer, not a crash
            return f"health check '{name}' failed: {exc}"
        return None
