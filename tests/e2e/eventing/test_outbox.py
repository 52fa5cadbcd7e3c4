"""The outbox across real processes: a producer keeps working while the broker is down, and
every event arrives, once, when it is back."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from devtools.served import Served
from tests.e2e.eventing.conftest import TOKENS
from tests.support.event_senders import ORDERS_PING, Senders
from tests.support.recorder import Recorder
from tests.support.services import free_port

pytestmark = pytest.mark.e2e


def _order(n: int) -> dict[str, object]:
    data = {
        "order_id": f"o{n}",
        "user_id": "u1",
        "email": "u1@example.com",
        "items": [],
        "total": {"amount": n, "currency": "EUR"},
    }
    return {
        "type": "shop.order.confirmed.v1",
        "source": "/orders",
        "subject": f"o{n}",
        "data": data,
    }


def test_while_the_broker_is_down_events_wait_in_the_outbox_and_all_arrive_later(
    tmp_path: Path, jwks: Recorder
) -> None:
    env = {"SHOP_DATA_DIR": str(tmp_path), "REDIS_URL": "", "JWKS_URL": jwks.url}
    senders = Senders(tmp_path)
    flush = senders.headers("orders", sub=ORDERS_PING)
    broker_port = free_port()
    notifications = Served("notifications", {**env, **senders.env("notifications")})
    producer = Served(
        "producer",
        {
            **env,
            **senders.env("orders"),  # as orders: its PingSource, its SinkBinding's token
            "BROKER_URL": f"http://127.0.0.1:{broker_port}/default/default",
            "OUTBOX_SWEEP_SECONDS": "0.3",
            "OUTBOX_MAX_BACKOFF_SECONDS": "0.5",
        },
        module="devtools.producer_app",
    )
    broker: Served | None = None
    try:
        notifications.wait_ready()
        producer.wait_ready()
        ids = []
        for n in range(5):
            emitted = httpx.post(f"{producer.url}/emit", json=_order(n))
            assert emitted.status_code == 201  # the broker being down does not fail the write
            ids.append(emitted.json()["id"])
        flushed = httpx.post(f"{producer.url}/outbox/flush", headers=flush).json()
        assert flushed["published"] == 0
        assert flushed["pending"] == 5

        broker = Served("broker", {**env, "NOTIFICATIONS_URL": notifications.url}, port=broker_port)
        broker.wait_ready()
        inbox: list[dict[str, object]] = []
        token = {"authorization": f"Bearer {TOKENS.token('u1')}"}
        for _ in range(200):
            inbox = httpx.get(f"{notifications.url}/notifications", headers=token).json()["items"]
            if len(inbox) >= 5:
                break
            httpx.post(
                f"{producer.url}/outbox/flush", headers=flush
            )  # what the PingSource does every minute
        assert sorted(str(n["event_id"]) for n in inbox) == sorted(ids)
        assert httpx.post(f"{producer.url}/outbox/flush", headers=flush).json()["pending"] == 0
    finally:
        for process in (producer, broker, notifications):
            if process is not None:
                process.stop()
