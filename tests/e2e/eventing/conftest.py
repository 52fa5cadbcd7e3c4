"""Real processes for the event flows: the local broker on the shipped manifests (its clock
compressed by TIME_SCALE), the notifications function, the dead-letter store (the notifications
app in its store-only role, as the cluster's dead-letters Service), an SMTP server and a JWKS
endpoint."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.served import Served
from shop.events.ce import CloudEvent, to_binary
from tests.support.event_senders import Senders
from tests.support.events import jwks_server
from tests.support.processes import ROOT
from tests.support.recorder import Recorder
from tests.support.smtp import SmtpSink
from tests.support.tokens import TokenFactory

TOKENS = TokenFactory()
TIME_SCALE = 0.01  # the shipped policy's 34 min of retries pass in about 20 s
# Made at import, used up to a whole suite later: valid for a day, not the default 10 minutes.
DAY = int(time.time()) + 86_400
ADMIN = {"authorization": f"Bearer {TOKENS.token('admin', 'admin', exp=DAY)}"}


@dataclass
class Flow:
    broker: Served
    notifications: Served
    dead_letter_store: Served
    smtp: SmtpSink
    env: dict[str, str]
    senders: Senders

    @property
    def ingress(self) -> str:
        return f"{self.broker.url}/default/default"

    def publish(self, event: CloudEvent) -> None:
        headers, body = to_binary(event)
        headers |= self.senders.to_broker()  # as the producers' SinkBinding token
        response = httpx.post(self.ingress, content=body, headers=headers)
        assert response.status_code == 202, response.text

    def inbox(self, user_id: str) -> list[dict[str, Any]]:
        token = TOKENS.token(user_id)
        response = httpx.get(
            f"{self.notifications.url}/notifications",
            headers={"authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def wait_inbox(self, user_id: str, count: int = 1, timeout: float = 20.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.inbox(user_id)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise TimeoutError(f"{user_id} has {len(self.inbox(user_id))} of {count} notifications")

    def dead_letters(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.dead_letter_store.url}/dead-letters", headers=ADMIN)
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def wait_dead_letters(self, count: int = 1, timeout: float = 60.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.dead_letters()
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise TimeoutError(f"{len(self.dead_letters())} of {count} dead letters")

    def events_answered(self, status_class: str) -> float:
        """How many `POST /events` notifications answered with `status_class` (its metrics)."""
        text = httpx.get(f"{self.notifications.url}/metrics").text
        total = 0.0
        for line in text.splitlines():
            if (
                line.startswith("http_requests_total{")
                and 'route="/events"' in line
                and f'status="{status_class}"' in line
            ):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def dlq(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "devtools", "dlq", *args],
            cwd=ROOT,
            env={
                **self.env,
                "DEAD_LETTERS_URL": self.dead_letter_store.url,
                "BROKER_URL": self.ingress,
                "SHOP_ADMIN_TOKEN": ADMIN["authorization"].removeprefix("Bearer "),
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def restart_notifications(self) -> None:
        port = self.notifications.port
        self.notifications = Served("notifications", self.env, port=port)
        self.notifications.wait_ready()


@pytest.fixture
def jwks() -> Iterator[Recorder]:
    with jwks_server(TOKENS) as server:
        yield server


@pytest.fixture
def flow(tmp_path: Path, jwks: Recorder) -> Iterator[Flow]:
    with SmtpSink() as smtp:
        env = {
            "SHOP_DATA_DIR": str(tmp_path),
            "REDIS_URL": "",
            "SMTP_URL": smtp.url,
            "JWKS_URL": jwks.url,
        }
        senders = Senders(tmp_path)
        env |= senders.env("notifications")
        notifications = Served("notifications", env)
        store_env = {
            **env,
            **senders.env("dead-letters"),  # its own audience and senders, as in the cluster
            "SHOP_DATA_DIR": str(tmp_path / "dead-letters"),
            "SMTP_URL": "",
        }
        store = Served("notifications", store_env)
        broker = Served(
            "broker",
            {
                **env,
                "NOTIFICATIONS_URL": notifications.url,
                "DEAD_LETTERS_URL": store.url,
                "BROKER_TIME_SCALE": str(TIME_SCALE),
            },
        )
        running = Flow(broker, notifications, store, smtp, env, senders)
        try:
            notifications.wait_ready()
            store.wait_ready()
            broker.wait_ready()
            yield running
        finally:
            running.broker.stop()
            running.notifications.stop()
            running.dead_letter_store.stop()
