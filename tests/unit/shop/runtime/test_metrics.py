from __future__ import annotations

import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from shop.runtime.metrics import Metrics
from shop.runtime.service import create_service_app
from shop.runtime.settings import Settings
from tests.support.media_types import InvalidMediaType, parse_media_type

SETTINGS = Settings.from_environ("products", {"INSTANCE_ID": "products-1"})


def scrape() -> tuple[str, str]:
    with TestClient(create_service_app(SETTINGS, register=False)) as client:
        client.get("/health")
        client.get("/nowhere")
        response = client.get("/metrics")
        assert response.status_code == 200
        return response.headers["content-type"], response.text


@pytest.mark.parametrize(
    "value",
    [
        "text/plain; version=1.0.0; charset=utf-8; charset=utf-8",
        "text/plain; charset=utf-8; Charset=utf-8",
        "text/plain; version=",
        "text/plain version=1",
        "text",
        'text/plain; a="unterminated',
    ],
)
def test_the_strict_parser_rejects_what_go_mime_rejects(value: str) -> None:
    with pytest.raises(InvalidMediaType):
        parse_media_type(value)


def test_the_strict_parser_reads_tokens_and_quoted_strings() -> None:
    assert parse_media_type('Text/Plain ;Version=1.0.0; q="a\\"b";') == (
        "text/plain",
        {"version": "1.0.0", "q": 'a"b'},
    )


def test_metrics_are_served_with_one_valid_prometheus_text_content_type() -> None:
    content_type, _ = scrape()

    assert parse_media_type(content_type) == (
        "text/plain",
        {"version": "1.0.0", "charset": "utf-8"},
    )


def test_counters_and_histograms_expose_no_created_series() -> None:
    _, text = scrape()

    samples = [s.name for f in text_string_to_metric_families(text) for s in f.samples]
    assert "http_requests_total" in samples
    assert "http_request_duration_seconds_count" in samples
    assert not [name for name in samples if name.endswith("_created")]


def test_in_flight_requests_and_open_connections_are_separate_gauges() -> None:
    metrics = Metrics("orders")
    open_connections = {"count": 3}
    metrics.count_connections(lambda: open_connections["count"])
    metrics.requests_in_flight.inc()

    def value(name: str) -> float | None:
        return metrics.registry.get_sample_value(name, {"service": "orders"})

    assert value("active_connections") == 3
    assert value("http_requests_in_flight") == 1
    open_connections["count"] = 0
    assert value("active_connections") == 0


def test_active_connections_is_zero_until_a_server_reports_its_connections() -> None:
    metrics = Metrics("orders")

    assert metrics.registry.get_sample_value("active_connections", {"service": "orders"}) == 0
