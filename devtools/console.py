"""`shop up`'s live status table: service, instance, port, health, restarts, breaker state."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import httpx

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

_BREAKER = re.compile(r"^gateway_breaker_state\{([^}]*)\}\s+([0-9.]+)$", re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')
BREAKER_NAMES = {0: "closed", 1: "half-open", 2: "open"}


class Running(Protocol):
    service: str
    index: int
    port: int
    restarts: int
    started_at: float

    @property
    def url(self) -> str: ...


class Row:
    def __init__(self) -> None:
        self.instance_id = "-"
        self.health = "starting"


def breaker_states(metrics_text: str) -> dict[str, str]:
    """instance id -> breaker state, from the gateway's /metrics."""
    states: dict[str, str] = {}
    for labels, value in _BREAKER.findall(metrics_text):
        found = dict(_LABEL.findall(labels))
        states[found.get("upstream_instance", "")] = BREAKER_NAMES.get(int(float(value)), value)
    return states


class StatusBoard:
    def __init__(self, gateway_url: str) -> None:
        self.gateway_url = gateway_url
        self.rows: dict[tuple[str, int, int], Row] = {}
        self.breakers: dict[str, str] = {}

    async def poll(self, instances: Sequence[Running], client: httpx.AsyncClient) -> None:
        async def one(instance: Running) -> None:
            row = self.rows.setdefault((instance.service, instance.index, instance.port), Row())
            try:
                response = await client.get(f"{instance.url}/health")
                body = response.json()
                row.health = str(body.get("status", response.status_code))
                row.instance_id = str(body.get("instance_id", row.instance_id))
            except (httpx.HTTPError, ValueError):
                row.health = "down"

        async def breakers() -> None:
            try:
                self.breakers = breaker_states(
                    (await client.get(f"{self.gateway_url}/metrics")).text
                )
            except httpx.HTTPError:
                self.breakers = {}

        await asyncio.gather(breakers(), *(one(i) for i in instances))

    def table(self, instances: Sequence[Running]) -> Table:
        from rich.table import Table

        table = Table(title="shop up", expand=False)
        for column in ("service", "instance", "port", "health", "restarts", "breaker", "up"):
            table.add_column(column)
        for instance in instances:
            row = self.rows.get((instance.service, instance.index, instance.port), Row())
            colour = {"healthy": "green", "down": "red"}.get(row.health, "yellow")
            breaker = self.breakers.get(
                row.instance_id, "-" if instance.service != "gateway" else ""
            )
            table.add_row(
                instance.service,
                row.instance_id[:16],
                str(instance.port),
                f"[{colour}]{row.health}[/]",
                str(instance.restarts),
                f"[red]{breaker}[/]" if breaker == "open" else breaker,
                f"{time.monotonic() - instance.started_at:.0f}s",
            )
        return table


def console() -> Console:
    from rich.console import Console

    return Console(highlight=False)
