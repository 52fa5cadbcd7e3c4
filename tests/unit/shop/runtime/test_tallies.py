"""The lock-free families write the same exposition text as prometheus-client's own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from shop.runtime.tallies import Buckets, Tally

VALUES = [0.0004, 0.005, 0.005, 0.07, 0.3, 2.5, 11.0, 99.0]


def _text(registry: CollectorRegistry) -> list[str]:
    lines = generate_latest(registry).decode().splitlines()
    return [line for line in lines if "_created" not in line]


def test_a_tally_writes_what_a_prometheus_counter_writes() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    tally = Tally("calls_total", "Calls.", ["route", "status"], ours)
    counter = Counter("calls_total", "Calls.", ["route", "status"], registry=theirs)
    for route, status in [("/a", "200"), ("/a", "200"), ("/b", "503")]:
        tally.series(route, status)[0] += 1
        counter.labels(route, status).inc()
    assert _text(ours) == _text(theirs)


def test_buckets_write_what_a_prometheus_histogram_writes() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    buckets = Buckets("latency_seconds", "Latency.", ["route"], ours)
    histogram = Histogram("latency_seconds", "Latency.", ["route"], registry=theirs)
    for n, value in enumerate(VALUES):
        route = "/a" if n % 3 else "/b"
        buckets.observe(buckets.series(route), value)
        histogram.labels(route).observe(value)
    assert _text(ours) == _text(theirs)


def test_a_value_on_a_bucket_bound_counts_in_that_bucket_as_prometheus_does() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    buckets = Buckets("size", "Size.", [], ours, buckets=[1.0, 2.0])
    histogram = Histogram("size", "Size.", [], registry=theirs, buckets=[1.0, 2.0])
    for value in (1.0, 2.0, 2.0000001):
        buckets.observe(buckets.series(), value)
        histogram.observe(value)
    assert _text(ours) == _text(theirs)
