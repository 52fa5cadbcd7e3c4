"""Real processes for the gateway's end-to-end tests, and ways to watch them."""

from __future__ import annotations

from pathlib import Path

import httpx

from devtools.served import Served

UPSTREAM = "tests.e2e.gateway.upstream"
FAST_REGISTRY = {
    "REGISTRY_TTL_SECONDS": "2",
    "REGISTRY_REFRESH_SECONDS": "0.2",
    "SHUTDOWN_GRACE_SECONDS": "1",
    "LOG_LEVEL": "WARNING",
}


class Stack:
    """Real processes: upstream instances and gateways on one Redis, stopped at the end."""

    def __init__(self, redis_url: str, jwks_file: Path) -> None:
        self.redis_url = redis_url
        self.jwks_file = jwks_file
        self.processes: list[Served] = []

    def upstream(
        self, service: str, instance_id: str, *, port: int | None = None, **env: str
    ) -> Served:
        served = Served(
            f"{service}-{instance_id}",
            {
                **FAST_REGISTRY,
                "REDIS_URL": self.redis_url,
                "UPSTREAM_SERVICE": service,
                "INSTANCE_ID": instance_id,
                "JWKS_FILE": str(self.jwks_file),
                "MAX_BODY_BYTES": str(64 * 1024 * 1024),
                **env,
            },
            port=port,
            module=UPSTREAM,
        )
        self.processes.append(served)
        return served

    def gateway(self, **env: str) -> Served:
        served = Served(
            "gateway",
            {
                **FAST_REGISTRY,
                "REDIS_URL": self.redis_url,
                "GATEWAY_BREAKER_OPEN_SECONDS": "1",
                "RATE_LIMIT_PER_SECOND": "10000",
                "RATE_LIMIT_BURST": "10000",
                **env,
            },
        )
        self.processes.append(served)
        return served

    def ready(self, *processes: Served) -> None:
        for served in processes:
            served.wait_ready(60)

    def close(self) -> None:
        for served in self.processes:
            served.stop()


def instances_seen(gateway: Served, path: str, count: int) -> set[str]:
    seen = set()
    with httpx.Client(base_url=gateway.url, timeout=5) as client:
        for _ in range(count):
            response = client.get(path)
            if response.status_code == 200:
                seen.add(response.json()["instance_id"])
    return seen


def metric(gateway: Served, name: str, **labels: str) -> float:
    """The value of one sample of the gateway's /metrics (0 when absent)."""
    text = httpx.get(f"{gateway.url}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total
