"""The whole shop as real processes on one Redis registry: an order through the gateway becomes
a notification and an e-mail, exactly once, in one trace; and orders keep working while the
broker is down."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.served import Served
from shop.events.ce import CloudEvent, to_binary
from tests.support.event_senders import Senders
from tests.support.otlp import OtlpReceiver, Span
from tests.support.services import redis_url
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.e2e
ADMIN = ("admin", "admin-password-for-tests")
PASSWORD = "correct horse battery"
FAST = {"REGISTRY_TTL_SECONDS": "2", "REGISTRY_REFRESH_SECONDS": "0.2", "LOG_LEVEL": "WARNING"}


class Shop:
    def __init__(self, directory: Path, redis_url: str, otlp: OtlpReceiver, smtp: SmtpSink):
        self.directory = directory
        self.otlp = otlp
        self.smtp = smtp
        self.env = {
            **FAST,
            "REDIS_URL": redis_url,
            "SHOP_DATA_DIR": str(directory),
            "SHOP_ADMIN_USERNAME": ADMIN[0],
            "SHOP_ADMIN_PASSWORD": ADMIN[1],
            "SHOP_DEMO_CATALOG": "0",
            "SMTP_URL": smtp.url,
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OUTBOX_SWEEP_SECONDS": "0.5",
            "OUTBOX_MAX_BACKOFF_SECONDS": "0.5",
            "RATE_LIMIT_PER_SECOND": "10000",
            "RATE_LIMIT_BURST": "10000",
            "RATE_LIMIT_AUTH_PER_MINUTE": "10000",
            "RATE_LIMIT_AUTH_BURST": "10000",
        }
        self.broker = Served("broker", self.env)
        self.ingress = f"{self.broker.url}/default/default"
        producers = {**self.env, "BROKER_URL": self.ingress}
        events = Senders(directory).env  # as `shop up`: the local issuer and each one's senders
        self.processes = {
            "broker": self.broker,
            "notifications": Served("notifications", {**self.env, **events("notifications")}),
            "users": Served("users", {**producers, **events("users")}),
            "products": Served("products", self.env),
            "orders": Served("orders", {**producers, **events("orders")}),
            "gateway": Served("gateway", self.env),
        }
        self.gateway = self.processes["gateway"].url
        self.http = httpx.Client(base_url=self.gateway, timeout=20)

    def ready(self) -> None:
        for served in self.processes.values():
            served.wait_ready(120)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until the gateway sees every function
            if all(
                self.http.get(f"/{name}/health").status_code == 200
                for name in ("users", "products", "orders", "notifications")
            ):
                return
            time.sleep(0.1)
        raise TimeoutError("the gateway does not see every function")

    def close(self) -> None:
        self.http.close()
        for served in self.processes.values():
            served.stop()

    def token(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        response = self.http.post("/auth/token", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return {"authorization": f"Bearer {response.json()['access_token']}"}

    def customer(self) -> tuple[str, dict[str, str]]:
        name = f"c{uuid.uuid4().hex[:10]}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        response = self.http.post("/users", json=body)
        assert response.status_code == 201, response.text
        return response.json()["id"], self.token(name)

    def product(self) -> str:
        sku = f"SKU-{uuid.uuid4().hex[:8]}"
        body = {
            "sku": sku,
            "name": "Tea",
            "description": "Green tea.",
            "category": "drinks",
            "price": {"amount": 450, "currency": "EUR"},
            "stock": 100,
        }
        response = self.http.post("/products", json=body, headers=self.token(*ADMIN))
        assert response.status_code == 201, response.text
        product_id: str = response.json()["id"]
        return product_id

    def order(self, token: dict[str, str], product_id: str) -> dict[str, Any]:
        body = {"items": [{"product_id": product_id, "quantity": 2}]}
        response = self.http.post("/orders", json=body, headers=token)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def inbox(self, token: dict[str, str]) -> list[dict[str, Any]]:
        response = self.http.get("/notifications", headers=token)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def wait_inbox(self, token: dict[str, str], kinds: set[str], timeout: float = 30) -> list[Any]:
        deadline = time.monotonic() + timeout
        while True:
            items = self.inbox(token)
            if kinds <= {i["kind"] for i in items} or time.monotonic() > deadline:
                return items
            time.sleep(0.1)

    def outbox_row(self, service: str, subject: str) -> dict[str, Any]:
        with sqlite3.connect(self.directory / f"{service}.db") as connection:
            connection.row_factory = sqlite3.Row
            row = connection.execute(
                "SELECT * FROM outbox WHERE subject = ?", (subject,)
            ).fetchone()
        assert row is not None
        return dict(row)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    url = redis_url()
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    with OtlpReceiver() as otlp, SmtpSink() as smtp:
        running = Shop(tmp_path_factory.mktemp("shop"), url, otlp, smtp)
        try:
            running.ready()
            yield running
        finally:
            running.close()
            client.flushdb()
            client.close()


def test_a_confirmed_order_makes_one_notification_and_one_email_even_when_delivered_twice(
    shop: Shop,
) -> None:
    user_id, token = shop.customer()
    placed = shop.order(token, shop.product())
    items = shop.wait_inbox(token, {"account_registered", "order_confirmed"})
    confirmed = [i for i in items if i["kind"] == "order_confirmed"]
    assert len(confirmed) == 1
    assert confirmed[0]["user_id"] == user_id

    row = shop.outbox_row("orders", placed["id"])  # the very event, published once already
    assert row["sent_at"] is not None
    again = CloudEvent(
        id=row["id"],
        source=row["source"],
        type=row["type"],
        subject=row["subject"],
        data=json.loads(row["data"]),
    )
    headers, body = to_binary(again)
    headers |= Senders(shop.directory).to_broker()  # as the orders SinkBinding
    assert httpx.post(shop.ingress, content=body, headers=headers).status_code == 202
    time.sleep(1.5)
    assert [i["kind"] for i in shop.inbox(token)].count("order_confirmed") == 1
    mails = [m for m in shop.smtp.messages if placed["id"] in str(m["Subject"])]
    assert len(mails) == 1


def _chain(span: Span, spans: list[Span]) -> list[Span]:
    by_id = {s.span_id: s for s in spans}
    found = [span]
    while found[-1].parent_id in by_id:
        found.append(by_id[found[-1].parent_id])
    return found


def test_an_order_through_the_gateway_is_one_trace_across_every_hop(shop: Shop) -> None:
    _, token = shop.customer()
    placed = shop.order(token, shop.product())
    shop.wait_inbox(token, {"order_confirmed"})
    deadline = time.monotonic() + 20
    chain: list[Span] = []
    while time.monotonic() < deadline:
        spans = shop.otlp.spans()
        consumes = [
            s
            for s in spans
            if s.name == "consume shop.order.confirmed.v1"
            and s.attributes.get("cloudevents.event_id")
            == shop.outbox_row("orders", placed["id"])["id"]
        ]
        if consumes:
            chain = _chain(consumes[0], [s for s in spans if s.trace_id == consumes[0].trace_id])
            if chain[-1].service == "gateway":
                break
        time.sleep(0.2)
    hops = [(s.service, s.kind, s.name) for s in chain]
    assert hops[0] == ("notifications", "consumer", "consume shop.order.confirmed.v1")
    assert ("notifications", "server", "POST /events") in hops
    assert ("broker", "producer", "broker deliver notifications-order-confirmed") in hops
    assert ("orders", "producer", "publish shop.order.confirmed.v1") in hops
    assert hops[-1][:2] == ("gateway", "server")
    trace = [s for s in shop.otlp.spans() if s.trace_id == chain[0].trace_id]
    assert {"gateway", "orders", "products", "broker", "notifications"} <= {
        s.service for s in trace
    }
    products = [s for s in trace if s.service == "products" and s.kind == "server"]
    assert products, "orders' calls to products are in the same trace"
    systems = {s.attributes.get("db.system") for s in trace if s.kind == "client"}
    # SQL statements are in it; the gateway's rate limit makes no Redis call inside a request
    # (its local buckets sync with Redis in the background: docs/gateway.md#rate-limits).
    assert "sqlite" in systems


def test_a_login_through_the_gateway_traces_its_exact_limit_check_in_redis(shop: Shop) -> None:
    shop.customer()  # signs up and logs in through the gateway
    deadline = time.monotonic() + 20
    checks: list[Span] = []
    while time.monotonic() < deadline and not checks:
        spans = shop.otlp.spans()
        requests = {s.trace_id for s in spans if s.service == "gateway" and s.kind == "server"}
        checks = [
            s
            for s in spans
            if s.service == "gateway"
            and s.kind == "client"
            and s.attributes.get("db.system") == "redis"
            and s.trace_id in requests
        ]
        time.sleep(0.2)
    assert checks, "the login limit's Redis call is a span of the login's own trace"


def test_while_the_broker_is_down_orders_succeed_and_every_event_arrives_later(
    shop: Shop,
) -> None:
    _, token = shop.customer()
    shop.wait_inbox(token, {"account_registered"})
    product = shop.product()
    port = shop.broker.port
    shop.broker.stop()
    placed = [shop.order(token, product)["id"] for _ in range(3)]
    time.sleep(1.0)
    assert [i["kind"] for i in shop.inbox(token)].count("order_confirmed") == 0
    assert all(shop.outbox_row("orders", order_id)["sent_at"] is None for order_id in placed)
    shop.broker = Served("broker", shop.env, port=port)
    shop.processes["broker"] = shop.broker
    shop.broker.wait_ready(40)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if [i["kind"] for i in shop.inbox(token)].count("order_confirmed") >= 3:
            break
        time.sleep(0.2)
    confirmed = [i for i in shop.inbox(token) if i["kind"] == "order_confirmed"]
    assert sorted(i["subject"] for i in confirmed) == sorted(f"Order {o} confirmed" for o in placed)
