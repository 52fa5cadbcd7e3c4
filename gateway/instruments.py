"""The gateway's own metrics, on the runtime's registry: upstreams, retries, breakers, limits."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge

from gateway.breaker import State
from shop.runtime.tallies import Buckets, Tally

BREAKER_VALUE = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}
# Not `instance`: Prometheus sets that label to the scraped target and renames ours away.
_INSTANCE = ("upstream", "upstream_instance")
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Instruments:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        # Updated on every call: lock-free (`shop.runtime.tallies`), written out at scrapes.
        self.upstream_requests = Tally(
            "gateway_upstream_requests_total",
            "Calls to upstream instances, by outcome (status class, error or timeout).",
            ["upstream", "outcome"],
            r,
        )
        self.upstream_duration = Buckets(
            "gateway_upstream_duration_seconds",
            "Time from sending a request upstream to its response headers.",
            ["upstream"],
            r,
            buckets=_LATENCY_BUCKETS,
        )
        self.retries = Counter(
            "gateway_retries_total", "Retries on another instance.", ["upstream"], registry=r
        )
        self.budget_exhausted = Counter(
            "gateway_retry_budget_exhausted_total",
            "Retries refused because the retry budget was spent.",
            ["upstream"],
            registry=r,
        )
        self.unavailable = Counter(
            "gateway_no_instance_total",
            "Requests answered 503 at once: no instance registered or every breaker open.",
            ["upstream"],
            registry=r,
        )
        self.ejections = Counter(
            "gateway_ejections_total",
            "Instances taken out of rotation because they did not answer a health probe.",
            ["upstream"],
            registry=r,
        )
        self.cold_starts = Counter(
            "gateway_fallback_requests_total",
            "Requests sent to a service's fallback URL (scale to zero), with the cold-start "
            "timeout.",
            ["upstream"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "gateway_breaker_state",
            "Circuit breaker per instance: 0 closed, 1 half-open, 2 open.",
            _INSTANCE,
            registry=r,
        )
        self.breaker_transitions = Counter(
            "gateway_breaker_transitions_total",
            "Circuit breaker state changes per instance.",
            [*_INSTANCE, "state"],
            registry=r,
        )
        self.rate_limited = Counter(
            "gateway_ratelimit_decisions_total",
            "Rate-limit verdicts: allowed, limited, fail_open (Redis down, read let through) "
            "or local (Redis down, checked in this replica's memory).",
            ["policy", "decision"],
            registry=r,
        )
        self.ratelimit_redis_errors = Counter(
            "gateway_ratelimit_redis_errors_total",
            "Rate-limit checks that could not reach Redis.",
            registry=r,
        )

    def upstream(self, service: str, outcome: str, seconds: float | None) -> None:
        self.upstream_requests.series(service, outcome)[0] += 1
        if seconds is not None:
            self.upstream_duration.observe(self.upstream_duration.series(service), seconds)

    def breaker_added(self, service: str, instance: str) -> None:
        self.breaker_state.labels(service, instance).set(BREAKER_VALUE[State.CLOSED])

    def breaker_changed(self, service: str, instance: str, state: State) -> None:
        self.breaker_state.labels(service, instance).set(BREAKER_VALUE[state])
        self.breaker_transitions.labels(service, instance, state.value).inc()

    def forget_instance(self, service: str, instance: str) -> None:
        """Drop every series of an instance that left the registry: with scale to zero,
        instance ids churn, and their series would otherwise grow without bound."""
        with contextlib.suppress(KeyError):
            self.breaker_state.remove(service, instance)
        for state in State:
            with contextlib.suppress(KeyError):
                self.breaker_transitions.remove(service, instance, state.value)
