"""A security control's own health: a control that errors never fails silently.

Each error is counted in `security_control_errors_total{service, control}`; the log says so once
when the control starts failing and once when it works again, never once per request.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger("shop.users.security")
METRIC = "security_control_errors_total"


def errors_counter(registry: CollectorRegistry) -> Counter:
    return Counter(
        METRIC,
        "Errors inside a security control (it then runs in its documented degraded mode).",
        ["service", "control"],
        registry=registry,
    )


class ControlHealth:
    def __init__(self, service: str, control: str, errors: Counter, *, degraded: str) -> None:
        self.control = control
        self.degraded = degraded
        self._errors = errors.labels(service, control)
        self.ok = True

    def failed(self, exc: BaseException) -> None:
        self._errors.inc()
        if self.ok:
            self.ok = False
            log.error(
                "security control %s is failing (%s: %s); %s",
                self.control,
                type(exc).__name__,
                exc,
                self.degraded,
                extra={"control": self.control},
            )

    def working(self) -> None:
        if not self.ok:
            self.ok = True
            log.warning("security control %s works again", self.control)
