"""The alerting rules and the Grafana dashboard, checked by Debian's promtool (skipped without it
outside CI, a failure in CI)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from gateway.instruments import Instruments
from shop.runtime.metrics import Metrics
from tests.support.prometheus import (
    RULE_TESTS,
    RULES,
    dashboard_expressions,
    grafana_expanded,
    promtool,
)

OUR_NAMES = re.compile(
    r"\b(?:http_\w+|gateway_\w+|registry_\w+|active_connections|service:\w+:\w+)\b"
)


def rule_expressions() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def names_we_expose() -> set[str]:
    metrics = Metrics("orders")
    Instruments(metrics.registry)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    names = {
        family.name + suffix
        for family in metrics.registry.collect()
        for suffix in suffixes[family.type]
    }
    records = yaml.safe_load(RULES.read_text())["groups"]
    return names | {r["record"] for group in records for r in group["rules"] if "record" in r}


def test_the_alerting_rules_are_valid_for_promtool() -> None:
    result = promtool("check", "rules", RULES)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_alerting_rules_pass_their_unit_tests() -> None:
    result = promtool("test", "rules", RULE_TESTS)

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    expressions = dashboard_expressions()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query{index}", "expr": grafana_expanded(expression)}
                    for index, expression in enumerate(expressions)
                ],
            }
        ]
    }
    as_rules = tmp_path / "dashboard-queries.yaml"
    as_rules.write_text(yaml.safe_dump(rules))

    result = promtool("check", "rules", as_rules)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(expressions)} rules found" in result.stdout


def test_the_dashboard_and_the_rules_name_only_metrics_the_services_expose() -> None:
    exposed = names_we_expose()
    named = {
        name
        for expression in [*dashboard_expressions(), *rule_expressions()]
        for name in OUR_NAMES.findall(expression)
    }

    assert named - exposed == set()
    for required in (
        "http_requests_total",
        "http_errors_total",
        "http_request_duration_seconds_bucket",
        "active_connections",
        "gateway_breaker_state",
        "registry_view_stale",
        "registry_instances",
    ):
        assert required in named
