"""Locust: shoppers through the gateway, with a realistic mix (browse ≫ search > order > cancel).

Every virtual user signs up and logs in, then browses the catalog page by page and looks at
products, searches, places an order now and then (with an Idempotency-Key, as the storefront
does) and sometimes cancels one. With admin credentials (SHOP_ADMIN_USERNAME/PASSWORD), the run
first stocks a `load` category deep enough that orders test the shop rather than sell it out.
Run it with `uv run task load` (headless, bounded, against 127.0.0.1 only).
"""

from __future__ import annotations

import os
import random
import secrets
import uuid
from typing import Any
from urllib.parse import urlparse

from locust import HttpUser, between, events, task
from locust.env import Environment

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
TERMS = ("lamp", "mug", "desk", "duck", "light", "kettle", "cable", "chair", "book", "load")
SEEDED = 20
# Think time between a shopper's tasks, "low,high" seconds; "0,0" makes one shopper a closed
# loop (the benchmark's unloaded baseline).
THINK = tuple(float(s) for s in os.environ.get("LOAD_THINK_SECONDS", "0.5,2").split(",", 1))
LOAD_STOCK = 1_000_000


def is_loopback(url: str | None) -> bool:
    return bool(url) and urlparse(url).hostname in LOOPBACK


def refuse_remote_hosts(environment: Environment, **_: Any) -> None:
    if not is_loopback(environment.host):
        raise SystemExit(f"load tests target 127.0.0.1 only, not {environment.host!r}")


def stock_the_load_category(environment: Environment, **_: Any) -> None:
    username = os.environ.get("SHOP_ADMIN_USERNAME")
    password = os.environ.get("SHOP_ADMIN_PASSWORD")
    if not (username and password and environment.host):
        return
    import httpx

    with httpx.Client(base_url=environment.host, timeout=10.0) as client:
        answer = client.post("/auth/token", json={"username": username, "password": password})
        if answer.status_code != 200:
            return
        auth = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        for n in range(SEEDED):
            client.post(
                "/products",
                headers=auth,
                json={
                    "sku": f"LOAD-{uuid.uuid4().hex[:10].upper()}",
                    "name": f"Load test item {n}",
                    "description": "Stocked for the load test.",
                    "category": "load",
                    "price": {"amount": 100 + 25 * n, "currency": "EUR"},
                    "stock": LOAD_STOCK,
                },
            )


events.init.add_listener(refuse_remote_hosts)  # type: ignore[no-untyped-call]
events.test_start.add_listener(stock_the_load_category)  # type: ignore[no-untyped-call]


class Shopper(HttpUser):
    wait_time = between(THINK[0], THINK[-1])

    def on_start(self) -> None:
        """Sign up and log in; a shopper who cannot goes on browsing anonymously."""
        self.orders: list[str] = []
        self.buyable: list[str] = []
        self.signed_in = False
        name = f"load_{uuid.uuid4().hex[:12]}"
        password = secrets.token_urlsafe(16)
        body = {"username": name, "email": f"{name}@example.com", "password": password}
        with self.client.post("/users", json=body, catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"sign-up: {response.status_code}")
                return
        with self.client.post(
            "/auth/token", json={"username": name, "password": password}, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"log-in: {response.status_code}")
                return
            token = response.json()["access_token"]
        self.client.headers["Authorization"] = f"Bearer {token}"
        self.signed_in = True
        self.find_buyable()

    def find_buyable(self) -> None:
        for query in ({"category": "load", "limit": 50}, {"limit": 50}):
            page = self.client.get("/products", params=query, name="/products?category").json()
            self.buyable = [p["id"] for p in page["items"] if p["stock"] > 0]
            if self.buyable:
                return

    @task(12)
    def browse(self) -> None:
        page = self.client.get("/products", params={"limit": 12}, name="/products").json()
        if page.get("next_cursor") and random.random() < 0.4:
            page = self.client.get(
                "/products",
                params={"limit": 12, "cursor": page["next_cursor"]},
                name="/products?cursor",
            ).json()
        if page.get("items"):
            product = random.choice(page["items"])
            self.client.get(f"/products/{product['id']}", name="/products/{id}")

    @task(4)
    def search(self) -> None:
        self.client.get("/products", params={"q": random.choice(TERMS)}, name="/products?q")

    @task(2)
    def order(self) -> None:
        if not self.signed_in:
            return None
        if not self.buyable:
            return self.find_buyable()
        items = [
            {"product_id": pid, "quantity": random.randint(1, 2)}
            for pid in random.sample(self.buyable, k=min(len(self.buyable), random.randint(1, 3)))
        ]
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        with self.client.post(
            "/orders", json={"items": items}, headers=headers, catch_response=True
        ) as response:
            if response.status_code == 201:
                self.orders.append(response.json()["id"])
            elif response.status_code == 409:  # sold out: the shop said so correctly
                response.success()
                self.find_buyable()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")
        return None

    @task(1)
    def cancel(self) -> None:
        if not self.orders:  # only signed-in shoppers have orders
            return
        order_id = self.orders.pop(random.randrange(len(self.orders)))
        self.client.post(f"/orders/{order_id}/cancel", name="/orders/{id}/cancel")

    @task(1)
    def my_orders_and_inbox(self) -> None:
        if not self.signed_in:
            return
        self.client.get("/orders", name="/orders")
        self.client.get("/notifications", name="/notifications")
