"""A real Prometheus (Debian's) scrapes a running `shop up`: every service's /metrics is
accepted as it is, with no fallback, and the dashboard's queries find the series they chart."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.stack import STATE_FILE
from tests.e2e.storefront.harness import LocalShop
from tests.support.media_types import parse_media_type
from tests.support.prometheus import (
    RULES,
    Prometheus,
    dashboard_expressions,
    grafana_expanded,
    require_binary,
)
from tests.support.services import redis_url

pytestmark = pytest.mark.e2e

SERVICES = {"broker", "users", "products", "orders", "notifications", "gateway"}
# Series that exist only after something went wrong (or a breaker changed state).
MAY_BE_EMPTY = re.compile(r"registry_errors_total|gateway_breaker_transitions|no_instance")


@pytest.fixture(scope="module")
def shop() -> Iterator[LocalShop]:
    require_binary("prometheus")
    shop = LocalShop(redis_url())
    try:
        shop.wait_ready(90)
        yield shop
    finally:
        shop.stop()


@pytest.fixture(scope="module")
def targets(shop: LocalShop) -> dict[str, list[str]]:
    """service -> its instances' host:port, from the state file `shop up` writes when ready."""
    state_file = shop.data_dir / STATE_FILE
    deadline = time.monotonic() + 30
    while not state_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    found: dict[str, list[str]] = {}
    for instance in json.loads(state_file.read_text())["instances"]:
        found.setdefault(instance["service"], []).append(instance["url"].split("//", 1)[1])
    return found


@pytest.fixture(scope="module")
def prometheus(shop: LocalShop, targets: dict[str, list[str]]) -> Iterator[Prometheus]:
    with httpx.Client(base_url=shop.url, timeout=10) as client:  # a little traffic to chart
        for path in ("/products", "/products?category=kitchen", "/no/such/route", "/health"):
            client.get(path)
    server = Prometheus(targets, rule_files=(RULES,))
    try:
        server.wait_ready()
        server.wait_scraped(sum(map(len, targets.values())), times=3)
        yield server
    finally:
        server.stop()


def test_every_service_answers_with_one_valid_prometheus_content_type(
    targets: dict[str, list[str]],
) -> None:
    assert set(targets) == SERVICES
    for service, hosts in targets.items():
        for host in hosts:
            response = httpx.get(f"http://{host}/metrics", timeout=5)
            assert response.status_code == 200, service
            assert parse_media_type(response.headers["content-type"]) == (
                "text/plain",
                {"version": "1.0.0", "charset": "utf-8"},
            ), service


def test_prometheus_scrapes_every_service_with_up_1_and_no_scrape_warning(
    prometheus: Prometheus, targets: dict[str, list[str]]
) -> None:
    up = {
        (s["metric"]["job"], s["metric"]["instance"]): s["value"][1] for s in prometheus.query("up")
    }
    expected = {(service, host) for service, hosts in targets.items() for host in hosts}

    assert up == dict.fromkeys(expected, "1")
    for target in prometheus.targets():
        assert target["health"] == "up", target
        assert target["lastError"] == "", target
    problems = [
        line
        for line in prometheus.log().splitlines()
        if "Invalid content type" in line
        or ("scrape" in line and re.search(r"level=(warn|error)", line))
    ]
    assert problems == []


def test_every_service_reports_its_open_connections_and_no_created_series(
    prometheus: Prometheus,
) -> None:
    # Prometheus's own scrape holds a connection to every target while it reads /metrics.
    connections = prometheus.query("max_over_time(active_connections[1m])")
    in_flight = prometheus.query("max_over_time(http_requests_in_flight[1m])")

    assert {s["metric"]["service"] for s in connections} == SERVICES
    assert all(float(s["value"][1]) >= 1 for s in connections), connections
    assert all(float(s["value"][1]) >= 1 for s in in_flight), in_flight
    assert prometheus.query('{__name__=~".+_created"}') == []
    assert prometheus.query('{exported_instance!=""}') == []


def test_every_dashboard_query_runs_on_the_scraped_series(prometheus: Prometheus) -> None:
    empty = [
        expression
        for expression in dashboard_expressions()
        if not prometheus.query(grafana_expanded(expression))
        and not MAY_BE_EMPTY.search(expression)
    ]

    assert empty == []


def test_prometheus_loads_the_shipped_rules(prometheus: Prometheus) -> None:
    groups = prometheus.http.get("/api/v1/rules").json()["data"]["groups"]

    assert {group["file"] for group in groups} == {str(RULES)}
    assert all(rule["health"] == "ok" for group in groups for rule in group["rules"]), groups
    firing = prometheus.http.get("/api/v1/alerts").json()["data"]["alerts"]
    assert [a for a in firing if a["state"] == "firing"] == []


def _unused(path: Path) -> None: ...
