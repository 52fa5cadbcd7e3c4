from __future__ import annotations

import asyncio

import pytest

from functions.users.passwords import DECOY, Passwords
from shop.runtime.errors import TooManyRequests, Unavailable

FAST = {"time_cost": 1, "memory_kib": 1024}


async def test_a_hash_verifies_only_its_own_password() -> None:
    passwords = Passwords(**FAST)
    stored = await passwords.hash("correct horse battery")
    assert await passwords.verify(stored, "correct horse battery")
    assert not await passwords.verify(stored, "correct horse battery!")
    assert not await passwords.verify(None, "correct horse battery")


async def test_a_burst_beyond_the_queue_is_refused_at_once_not_queued() -> None:
    passwords = Passwords(**FAST, parallel=1, max_waiting=1)
    results = await asyncio.gather(
        *(passwords.hash(f"password number {n}", f"client {n}") for n in range(5)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, Unavailable)]
    hashed = [r for r in results if isinstance(r, str)]
    assert len(hashed) == 2  # one hashing, one waiting
    assert len(refused) == 3
    assert all(r.retry_after == 1 for r in refused)


async def test_after_a_burst_the_slots_are_free_again() -> None:
    passwords = Passwords(**FAST, parallel=1, max_waiting=0)
    await asyncio.gather(
        *(passwords.hash("x" * 12, f"client {n}") for n in range(3)), return_exceptions=True
    )
    assert await passwords.verify(await passwords.hash("y" * 12), "y" * 12)


@pytest.mark.parametrize("stored", ["not a hash", ""])
async def test_a_corrupt_stored_hash_never_verifies(stored: str) -> None:
    assert not await Passwords(**FAST).verify(stored, "anything at all")


async def test_one_client_holds_at_most_its_share_and_others_still_get_in() -> None:
    passwords = Passwords(**FAST, parallel=1, max_waiting=8, per_client=2)
    flood = [passwords.hash(f"flood {n}", "10.0.0.1") for n in range(6)]
    other = passwords.verify(None, "a password", "10.0.0.2")
    *from_flood, other_result = await asyncio.gather(*flood, other, return_exceptions=True)
    assert [type(r) for r in from_flood].count(str) == 2
    refused = [r for r in from_flood if isinstance(r, TooManyRequests)]
    assert len(refused) == 4
    assert all(r.retry_after == 1 for r in refused)
    assert other_result is False  # verified (and wrong), not refused


async def test_a_clients_share_is_given_back_when_its_hashes_finish() -> None:
    passwords = Passwords(**FAST, parallel=1, per_client=1)
    for n in range(3):
        assert await passwords.hash(f"one at a time {n}", "10.0.0.1")


def test_the_built_in_decoy_has_the_default_parameters_so_it_costs_what_a_real_hash_costs() -> None:
    assert not Passwords().needs_rehash(DECOY)


async def test_an_unknown_username_never_matches_even_with_the_decoys_own_password() -> None:
    assert not await Passwords().verify(None, "decoy password that matches nothing")
    assert not await Passwords(**FAST).verify(None, "decoy password that matches nothing")
