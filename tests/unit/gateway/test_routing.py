from __future__ import annotations

from typing import Any

import pytest

from gateway.routing import build, load
from gateway.settings import GatewaySettings
from shop.runtime.settings import SettingsError


def test_the_built_in_table_routes_the_public_prefixes_of_the_contract() -> None:
    table = load(GatewaySettings.from_environ({}))

    expected = {
        "/users/me": "users",
        "/auth/token": "users",
        "/.well-known/jwks.json": "users",
        "/products": "products",
        "/products/abc": "products",
        "/orders/o-1/cancel": "orders",
        "/notifications": "notifications",
    }
    for path, service in expected.items():
        route = table.match(path)
        assert route is not None, path
        assert route.service.name == service, path
    for path in ("/internal/reservations", "/outbox/flush", "/productsx", "/", "/registry"):
        assert table.match(path) is None, path


def test_policies_follow_the_contract() -> None:
    table = load(GatewaySettings.from_environ({}))

    def policy(method: str, path: str) -> str:
        route = table.match(path)
        assert route is not None
        return route.policy(method)

    assert policy("POST", "/users") == "public"
    assert policy("GET", "/users/me") == "user"
    assert policy("POST", "/auth/token") == "public"
    assert policy("GET", "/products/1") == "public"
    assert policy("POST", "/products") == "admin"
    assert policy("PATCH", "/products/1") == "admin"
    assert policy("DELETE", "/products/1") == "admin"
    assert policy("POST", "/orders") == "user"
    assert policy("GET", "/notifications") == "user"


def test_the_login_route_has_its_own_limit_and_timeout() -> None:
    table = load(GatewaySettings.from_environ({}))

    login = table.match("/auth/token")
    other = table.match("/auth/other")

    assert login is not None
    assert other is not None
    assert login.rate_limit == "auth"
    assert login.timeout == 5
    assert other.rate_limit == "default"


def test_service_health_goes_to_the_instance_health() -> None:
    table = load(GatewaySettings.from_environ({}))

    route = table.match("/products/health")

    assert route is not None
    assert route.upstream_path == "/health"
    assert route.policy("GET") == "public"
    nested = table.match("/products/health/x")
    assert nested is not None
    assert nested.upstream_path is None


def test_environment_overrides_fallbacks_and_timeouts() -> None:
    env = {
        "ORDERS_URL": "http://orders.shop.svc.cluster.local",
        "ORDERS_TIMEOUT_SECONDS": "2.5",
        "ORDERS_COLD_START_TIMEOUT_SECONDS": "45",
    }
    table = load(GatewaySettings.from_environ(env))

    orders = table.services["orders"]
    route = table.match("/orders")
    assert orders.fallback_url == "http://orders.shop.svc.cluster.local"
    assert orders.timeout == 2.5
    assert orders.cold_start_timeout == 45
    assert route is not None
    assert route.timeout == 2.5
    assert table.services["users"].fallback_url is None


def test_a_table_from_a_json_file(tmp_path: Any) -> None:
    path = tmp_path / "routes.json"
    path.write_text('{"services": {"shop": {}}, "routes": [{"prefix": "/a/b", "service": "shop"}]}')

    table = load(GatewaySettings.from_environ({"GATEWAY_ROUTES_FILE": str(path)}))

    route = table.match("/a/b/c")
    assert route is not None
    assert route.policy("GET") == "user"
    assert table.prefixes == ["/a", "/shop"]


@pytest.mark.parametrize(
    "routes",
    [
        [{"prefix": "users", "service": "users"}],
        [{"prefix": "/users/", "service": "users"}],
        [{"prefix": "/users", "service": "nobody"}],
        [{"prefix": "/users", "service": "users", "auth": "everyone"}],
        [{"prefix": "/users", "service": "users", "rate_limit": "lots"}],
    ],
)
def test_a_broken_table_is_refused_at_start(routes: list[dict[str, Any]]) -> None:
    with pytest.raises(SettingsError):
        build({"services": {"users": {}}, "routes": routes}, GatewaySettings.from_environ({}))


def test_a_missing_file_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load(GatewaySettings.from_environ({"GATEWAY_ROUTES_FILE": "/nonexistent/routes.yaml"}))
