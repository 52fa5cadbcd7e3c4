"""A bounded order load through the gateway, as correct clients send it: every order has its
own Idempotency-Key, retried with that key as each Retry-After says until the client gets an
answer that settles it (201, out of stock, a 4xx) or its own deadline passes."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.faults.stack import ADMIN

PASSWORD = "correct horse battery staple"
RETRYABLE = {409, 429, 502, 503, 504}


@dataclass
class Answer:
    status: int  # 0: no HTTP answer (connection refused or reset, timeout)
    seconds: float
    started: float
    problem: bool
    retry_after: bool
    settles: bool = False  # a 409 that settles (out of stock, already cancelled), not "in progress"


@dataclass
class Placement:
    user: str
    key: str
    order_id: str | None = None  # the order a 201 named
    final: int = 0
    cancelled: bool = False  # the load cancelled the order (a 200, or 409 "already" on a retry)


@dataclass
class Load:
    url: str
    answers: list[Answer] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)
    products: dict[str, int] = field(default_factory=dict)  # id: initial stock
    customers: list[tuple[str, str]] = field(default_factory=list)  # (user id, token)
    cancel_every: int = 0  # cancel every n-th order placed (0: none), for its cancelled event
    # When the fault ended, if it says so: one that goes on to check or repair after it (a
    # `shop dlq replay`) returns later than that, and the load may be spent by then.
    fault_ended: float | None = None

    async def arrange(
        self, http: httpx.AsyncClient, *, products: int, stock: int, customers: int
    ) -> None:
        body = dict(zip(("username", "password"), ADMIN, strict=True))
        admin = (await http.post("/auth/token", json=body)).json()["access_token"]
        for _ in range(products):
            sku = f"F-{uuid.uuid4().hex[:10]}"
            made = await http.post(
                "/products",
                json={
                    "sku": sku,
                    "name": f"Fault {sku}",
                    "description": "Stock for the fault suite.",
                    "category": "faults",
                    "price": {"amount": 500, "currency": "EUR"},
                    "stock": stock,
                },
                headers={"Authorization": f"Bearer {admin}"},
            )
            assert made.status_code == 201, made.text
            self.products[made.json()["id"]] = stock
        for _ in range(customers):
            name = f"f{uuid.uuid4().hex[:12]}"
            user = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
            made = await http.post("/users", json=user)
            assert made.status_code == 201, made.text
            token = await http.post("/auth/token", json={"username": name, "password": PASSWORD})
            self.customers.append((made.json()["id"], token.json()["access_token"]))

    async def run(
        self, http: httpx.AsyncClient, stop: asyncio.Event, *, workers: int, orders: int
    ) -> None:
        """Placements over `workers` clients until `stop` is set, `orders` at most; each key
        is given up on after 30 s."""
        tickets = itertools.count()

        async def worker() -> None:
            while not stop.is_set() and next(tickets) < orders:
                await self.place(http)
                await asyncio.sleep(0.05)

        await asyncio.gather(*(worker() for _ in range(workers)))

    async def place(self, http: httpx.AsyncClient) -> Placement:
        user, token = random.choice(self.customers)
        product = random.choice(list(self.products))
        placement = Placement(user, str(uuid.uuid4()))
        self.placements.append(placement)
        body = {"items": [{"product_id": product, "quantity": random.randint(1, 2)}]}
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": placement.key}
        give_up = time.monotonic() + 30.0
        while time.monotonic() < give_up:
            response = await self.send(http, "/orders", headers, body)
            if response is not None and response.status_code not in RETRYABLE:
                placement.final = response.status_code
                if response.status_code == 201:
                    placement.order_id = response.json()["id"]
                    placed = sum(1 for p in self.placements if p.order_id)
                    if self.cancel_every and placed % self.cancel_every == 0:
                        await self.cancel(http, placement, token)
                return placement
            if response is not None and response.status_code == 409 and _short(response):
                placement.final = 409
                return placement
            await _pause(response)
        return placement

    async def cancel(self, http: httpx.AsyncClient, placement: Placement, token: str) -> None:
        """Cancel the order just placed, retrying as each Retry-After says (a 409 "already
        cancelled" answers a retry whose first try did it)."""
        headers = {"Authorization": f"Bearer {token}"}
        give_up = time.monotonic() + 30.0
        while time.monotonic() < give_up:
            path = f"/orders/{placement.order_id}/cancel"
            response = await self.send(http, path, headers)
            if response is not None and response.status_code in {200, 409}:
                placement.cancelled = True
                return
            if response is not None and response.status_code not in RETRYABLE:
                return
            await _pause(response)

    async def send(
        self,
        http: httpx.AsyncClient,
        path: str,
        headers: dict[str, str],
        body: dict[str, Any] | None = None,
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await http.post(path, json=body, headers=headers)
        except httpx.TransportError:
            self.answers.append(Answer(0, time.monotonic() - started, started, False, False))
            return None
        self.answers.append(
            Answer(
                response.status_code,
                time.monotonic() - started,
                started,
                response.headers.get("content-type", "").startswith("application/problem+json"),
                "retry-after" in response.headers,
                response.status_code == 409 and (_short(response) or path != "/orders"),
            )
        )
        return response


async def _pause(response: httpx.Response | None) -> None:
    """As long as the answer's Retry-After says (5 s at most), else half a second."""
    wait = response.headers.get("retry-after") if response is not None else None
    await asyncio.sleep(min(float(wait), 5.0) if wait and wait.isdigit() else 0.5)


def _short(response: httpx.Response) -> bool:
    """409 out of stock (final), not 409 "still in progress" (retry)."""
    try:
        return "short" in response.json()
    except ValueError:
        return False
