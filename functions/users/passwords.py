"""Password hashing with argon2id (argon2-cffi), off the event loop and bounded in memory.

The parameters follow OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane), so a small pod can
hash a couple of passwords at once; hashes made with other parameters are upgraded on login.
A burst beyond what the pod can hash soon is refused at once with 503 and Retry-After (load
shedding), instead of queueing until the caller's timeout turns it into a 504.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shop.runtime.errors import Unavailable


class Passwords:
    def __init__(
        self,
        *,
        time_cost: int = 2,
        memory_kib: int = 19_456,
        parallel: int = 2,
        max_waiting: int = 16,
    ) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        self._slots = asyncio.Semaphore(parallel)
        self._max_waiting = max_waiting
        self._waiting = 0
        # Verifying against this keeps an unknown username as slow as a wrong password.
        self._decoy = self._hasher.hash("decoy password that matches nothing")

    async def hash(self, password: str) -> str:
        await self._enter()
        try:
            return await asyncio.to_thread(self._hasher.hash, password)
        finally:
            self._slots.release()

    async def verify(self, stored: str | None, password: str) -> bool:
        await self._enter()
        try:
            return await asyncio.to_thread(self._verify, stored or self._decoy, password)
        finally:
            self._slots.release()

    async def _enter(self) -> None:
        if self._slots.locked() and self._waiting >= self._max_waiting:
            raise Unavailable(
                "Too many sign-ins at once; try again shortly.", retry_after=1, failure="shedding"
            )
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password) and stored is not self._decoy
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)
