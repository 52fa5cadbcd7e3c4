"""The notifications function's own Prometheus metrics, on the instance's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class NotificationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "notifications_events",
            "Events handled, by type and result (stored, duplicate)",
            ["type", "result"],
            registry=registry,
        )
        self.emails = Counter(
            "notifications_emails",
            "E-mails by result (sent, retry, refused)",
            ["result"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "notifications_dead_letters",
            "Dead letters received, by event type and the error code that sent them",
            ["type", "code"],
            registry=registry,
        )
