"""Prometheus metrics with the names of the public contract, one registry per app."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from shop.runtime.tallies import Buckets, Cells, Tally

# prometheus-client's own type, charset included: sent as is (Litestar would append another).
CONTENT_TYPE = CONTENT_TYPE_LATEST
_HTTP = ("service", "method", "route", "status")


class Metrics:
    def __init__(self, service: str) -> None:
        # No `_created` series: a second series per counter and histogram that no query of
        # ours reads. The switch is process-wide in prometheus-client; every app wants it off.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # Updated on every request: lock-free (`shop.runtime.tallies`), written out at scrapes.
        self.requests = Tally("http_requests_total", "HTTP requests.", _HTTP, r)
        self.errors = Tally("http_errors_total", "HTTP responses >= 400.", _HTTP, r)
        self.duration = Buckets("http_request_duration_seconds", "HTTP request duration.", _HTTP, r)
        self.connections = Gauge(
            "active_connections",
            "Open client connections to this instance's server (idle keep-alive included).",
            ["service"],
            registry=r,
        )
        self.in_flight = Gauge(
            "http_requests_in_flight", "HTTP requests being served.", ["service"], registry=r
        )
        self.registry_errors = Counter(
            "registry_errors_total",
            "Failed service-registry operations.",
            ["service", "operation"],
            registry=r,
        )
        self.registry_stale = Gauge(
            "registry_view_stale",
            "1 while the cached registry view serves the last known state because Redis is down.",
            ["service"],
            registry=r,
        )
        self.registry_instances = Gauge(
            "registry_instances",
            "Healthy instances in the cached registry view.",
            ["service", "upstream"],
            registry=r,
        )
        self.connections.labels(service)  # 0 until a server reports its connections
        self.requests_in_flight = Level()
        self.in_flight.labels(service).set_function(lambda: self.requests_in_flight.value)
        self._children: dict[tuple[str, str, str], tuple[Cells, Cells, Cells | None]] = {}

    def count_connections(self, count: Callable[[], int]) -> None:
        """`active_connections` reads `count()` at every scrape (the server's open connections)."""
        self.connections.labels(self.service).set_function(lambda: float(count()))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        status_class = f"{status // 100}xx"
        key = (method, route, status_class)
        children = self._children.get(key)
        if children is None:
            labels = (self.service, method, route, status_class)
            error = self.errors.series(*labels) if status >= 400 else None
            children = (self.requests.series(*labels), self.duration.series(*labels), error)
            self._children[key] = children
        requests, duration, error = children
        requests[0] += 1
        self.duration.observe(duration, seconds)
        if error is not None:
            error[0] += 1

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class Level:
    """A gauge's value kept without a lock (read at scrapes): requests in flight."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def inc(self) -> None:
        self.value += 1

    def dec(self) -> None:
        self.value -= 1
