from __future__ import annotations

import pytest

from gateway.settings import GatewaySettings
from shop.runtime.settings import SettingsError


def test_defaults() -> None:
    settings = GatewaySettings.from_environ({})

    assert settings.runtime.service == "gateway"
    assert settings.balancer == "least_outstanding"
    assert settings.retry_budget_ratio == 0.2
    assert settings.cors_origins == ()
    assert settings.rate_limit_enabled


def test_overrides() -> None:
    settings = GatewaySettings.from_environ(
        {
            "GATEWAY_BALANCER": "p2c",
            "CORS_ORIGINS": "https://a.example, https://b.example",
            "RATE_LIMIT_PER_SECOND": "5",
            "RATE_LIMIT_ENABLED": "no",
            "GATEWAY_ROUTES_FILE": "/etc/shop/routes.yaml",
        }
    )

    assert settings.balancer == "p2c"
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.rate_limit_per_second == 5
    assert not settings.rate_limit_enabled
    assert settings.routes_file == "/etc/shop/routes.yaml"


@pytest.mark.parametrize(
    "environ",
    [
        {"GATEWAY_BALANCER": "random"},
        {"GATEWAY_RETRY_BUDGET_RATIO": "2"},
        {"GATEWAY_MAX_ATTEMPTS": "0"},
        {"RATE_LIMIT_BURST": "many"},
    ],
)
def test_bad_values_are_refused(environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        GatewaySettings.from_environ(environ)
