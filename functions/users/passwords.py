"""Password hashing with argon2id (argon2-cffi), off the event loop and bounded in memory.

The parameters follow OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane), so a small pod can
hash a couple of passwords at once; hashes made with other parameters are upgraded on login.
A burst beyond what the pod can hash soon is refused at once with 503 and Retry-After (load
shedding), instead of queueing until the caller's timeout turns it into a 504. One client may
hold at most `per_client` of those places (hashing or waiting); beyond that it gets 429 at once,
so a flood from one client can never spend the capacity every other client needs.

argon2 is imported at the first hash or verification, in the worker thread, and the decoy an
unknown username is verified against is a constant: start-up pays for neither (a hash at start
cost ~45 ms of CPU and 19 MiB of transient memory in every cold start).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from shop.runtime.errors import TooManyRequests, Unavailable

if TYPE_CHECKING:
    from argon2 import PasswordHasher

LOCAL = "local"  # the instance itself (the admin's bootstrap)
# A hash, with the default parameters, of a password nobody is told: verifying an unknown
# username against it is as slow as a wrong password. Any other parameters hash their own decoy.
DECOY = (
    "$argon2id$v=19$m=19456,t=2,p=1$UfrZYa1kFJzGk7zn6zKzww"
    "$cYuGIzNgoe7H3FR8fIJMvJa3nrR8Xbm47ghYnX+pnfI"
)


class Passwords:
    def __init__(
        self,
        *,
        time_cost: int = 2,
        memory_kib: int = 19_456,
        parallel: int = 2,
        max_waiting: int = 16,
        per_client: int = 2,
    ) -> None:
        self._time_cost = time_cost
        self._memory_kib = memory_kib
        self._slots = asyncio.Semaphore(parallel)
        self._max_waiting = max_waiting
        self._waiting = 0
        self._per_client = per_client
        self._by_client: dict[str, int] = {}

    @functools.cached_property
    def _hasher(self) -> PasswordHasher:
        from argon2 import PasswordHasher

        return PasswordHasher(
            time_cost=self._time_cost, memory_cost=self._memory_kib, parallelism=1
        )

    @functools.cached_property
    def _decoy(self) -> str:
        if self._hasher.check_needs_rehash(DECOY):  # not the default parameters
            return self._hasher.hash("decoy password that matches nothing")
        return DECOY

    async def hash(self, password: str, client: str = LOCAL) -> str:
        async with self._turn(client):
            return await asyncio.to_thread(self._hash, password)

    async def verify(self, stored: str | None, password: str, client: str = LOCAL) -> bool:
        async with self._turn(client):
            return await asyncio.to_thread(self._verify, stored, password)

    @asynccontextmanager
    async def _turn(self, client: str) -> AsyncIterator[None]:
        held = self._by_client.get(client, 0)
        if held >= self._per_client:
            raise TooManyRequests(
                "Too many sign-ins from this client at once; try again shortly.", retry_after=1
            )
        if self._slots.locked() and self._waiting >= self._max_waiting:
            raise Unavailable(
                "Too many sign-ins at once; try again shortly.", retry_after=1, failure="shedding"
            )
        self._by_client[client] = held + 1
        try:
            self._waiting += 1
            try:
                await self._slots.acquire()
            finally:
                self._waiting -= 1
            try:
                yield
            finally:
                self._slots.release()
        finally:
            left = self._by_client[client] - 1
            if left:
                self._by_client[client] = left
            else:
                del self._by_client[client]

    def _hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def _verify(self, stored: str | None, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            if not stored:  # an unknown username: as slow as a wrong password, never a match
                self._hasher.verify(self._decoy, password)
                return False
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):  # VerifyMismatchError is one
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)
