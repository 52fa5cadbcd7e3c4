"""Issue 10, item 1 (the users half): one client flooding sign-ups cannot deny another's login."""

from __future__ import annotations

import asyncio

import httpx

from devtools.served import Served
from tests.security.users import PASSWORD, async_client, client, log_in, sign_up

FLOODERS = 24  # concurrent sign-ups from one client, more than the pod can hash or queue
ROUNDS = 4


async def flood(url: str, started: asyncio.Event) -> list[httpx.Response]:
    async with async_client(url, "127.0.0.2") as http:

        async def worker(w: int) -> list[httpx.Response]:
            answers = []
            for r in range(ROUNDS):
                body = {
                    "username": f"flood{w}x{r}",
                    "email": f"flood{w}x{r}@example.com",
                    "password": PASSWORD,
                }
                answers.append(await http.post("/users", json=body))
                started.set()
            return answers

        per_worker = await asyncio.gather(*(worker(w) for w in range(FLOODERS)))
    return [a for answers in per_worker for a in answers]


async def logins(url: str, started: asyncio.Event) -> list[int]:
    await started.wait()
    async with async_client(url, "127.0.0.3") as http:
        return [
            (
                await http.post("/auth/token", json={"username": "bob", "password": PASSWORD})
            ).status_code
            for _ in range(3)
        ]


async def attack(url: str) -> tuple[list[httpx.Response], list[int]]:
    started = asyncio.Event()
    return await asyncio.gather(flood(url, started), logins(url, started))


def test_a_sign_up_flood_from_one_client_leaves_room_for_another_clients_login(
    serve_users: Served,
) -> None:
    with client(serve_users.url, "127.0.0.3") as bob:
        assert sign_up(bob, "bob").status_code == 201
    flooded, bobs = asyncio.run(attack(serve_users.url))
    assert bobs == [200, 200, 200]
    statuses = {r.status_code for r in flooded}
    assert statuses <= {201, 429}, statuses
    refused = [r for r in flooded if r.status_code == 429]
    assert refused
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert all(r.headers["content-type"].startswith("application/problem+json") for r in refused)
    with client(serve_users.url, "127.0.0.3") as bob:
        assert log_in(bob, "bob").status_code == 200
