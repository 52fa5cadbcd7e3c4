from __future__ import annotations

import pytest

from shop.runtime.settings import Settings, SettingsError


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_environ("users", {})
    assert settings.service == "users"
    assert settings.port == 8080
    assert settings.host == "0.0.0.0"
    assert settings.redis_url is None
    assert settings.registry_ttl <= 10


def test_knative_port_service_and_revision_are_honoured() -> None:
    env = {"PORT": "9000", "K_SERVICE": "orders", "K_REVISION": "orders-00002"}
    settings = Settings.from_environ("orders", env)
    assert settings.port == 9000
    assert settings.k_service == "orders"
    assert settings.k_revision == "orders-00002"
    assert settings.version == "orders-00002"


def test_settings_are_frozen() -> None:
    settings = Settings.from_environ("users", {})
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "value"),
    [("PORT", "eighty"), ("PORT", "-1"), ("REGISTRY_TTL_SECONDS", "0.5")],
)
def test_a_bad_value_is_refused_with_its_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_environ("users", {name: value})


def test_an_empty_value_means_the_default() -> None:
    settings = Settings.from_environ("users", {"LOG_LEVEL": "", "PORT": " "})
    assert (settings.log_level, settings.port) == ("INFO", 8080)


def test_the_heartbeat_runs_three_times_per_ttl() -> None:
    settings = Settings.from_environ("users", {"REGISTRY_TTL_SECONDS": "6"})
    assert settings.heartbeat_interval == pytest.approx(2.0)


def test_the_advertised_address_prefers_the_explicit_url() -> None:
    env = {"ADVERTISE_URL": "http://users.shop.svc.cluster.local/", "PORT": "8080"}
    assert Settings.from_environ("users", env).address == "http://users.shop.svc.cluster.local"


def test_the_advertised_address_uses_a_concrete_bind_host() -> None:
    settings = Settings.from_environ("users", {"HOST": "127.0.0.1", "PORT": "8123"})
    assert settings.address == "http://127.0.0.1:8123"


def test_each_process_gets_its_own_instance_id() -> None:
    first = Settings.from_environ("users", {"HOSTNAME": "users-abc"})
    second = Settings.from_environ("users", {"HOSTNAME": "users-abc"})
    assert first.instance_id != second.instance_id
    assert first.instance_id.startswith("users-abc-")


def test_an_optional_bounded_variable_is_read_and_bounded() -> None:
    from functions.products.settings import ProductsSettings

    assert ProductsSettings.from_environ({"RESERVATION_SWEEP_SECONDS": "0.5"}).sweep_interval == 0.5
    with pytest.raises(SettingsError, match=r"RESERVATION_SWEEP_SECONDS must be a number >= 0\.05"):
        ProductsSettings.from_environ({"RESERVATION_SWEEP_SECONDS": "0.01"})


@pytest.mark.parametrize(
    ("name", "value"),
    [("ORDERS_TIMEOUT_SECONDS", "-1"), ("GATEWAY_BALANCER", "random"), ("CORS_ORIGINS", None)],
)
def test_per_service_choice_and_list_variables_are_checked(name: str, value: str | None) -> None:
    from gateway.settings import GatewaySettings

    if value is None:
        parsed = GatewaySettings.from_environ({name: "https://a.example, https://b.example"})
        assert parsed.cors_origins == ("https://a.example", "https://b.example")
        return
    with pytest.raises(SettingsError, match=name):
        GatewaySettings.from_environ({name: value})
