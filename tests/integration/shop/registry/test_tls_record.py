"""A record carries what a caller needs to reach the instance over TLS: the scheme in its address
and the name to verify the certificate against, from the settings through real Redis."""

from __future__ import annotations

import time

import pytest
from redis.asyncio import Redis

from shop.registry.store import Instance, Registry
from shop.runtime.service import registry_metadata
from shop.runtime.settings import Settings, SettingsError

pytestmark = pytest.mark.integration

QUEUE_PROXY_TLS = {
    "ADVERTISE_URL": "https://10.0.0.5:8112",
    "ADVERTISE_TLS_SERVER_NAME": "kn-user-shop",
    "K_REVISION": "orders-00002",
}


def registered(settings: Settings) -> Instance:
    return Instance(
        instance_id="orders-a",
        service="orders",
        address=settings.address,
        registered_at=time.time(),
        metadata=registry_metadata(settings),
    )


async def test_an_instance_behind_queue_proxy_tls_is_discovered_with_its_server_name(
    redis: Redis,
) -> None:
    registry = Registry(redis)
    await registry.register(registered(Settings.from_environ("orders", QUEUE_PROXY_TLS)))
    (found,) = await registry.discover("orders")
    assert found.address == "https://10.0.0.5:8112"
    assert found.scheme == "https"
    assert found.tls_server_name == "kn-user-shop"
    assert found.metadata["revision"] == "orders-00002"


async def test_a_plain_http_instance_has_no_server_name_and_https_defaults_to_the_host(
    redis: Redis,
) -> None:
    registry = Registry(redis)
    await registry.register(
        registered(Settings.from_environ("orders", {"ADVERTISE_URL": "http://10.0.0.5:8012"}))
    )
    (plain,) = await registry.discover("orders")
    assert (plain.scheme, plain.tls_server_name) == ("http", None)
    assert "tls_server_name" not in plain.metadata
    https = Settings.from_environ("orders", {"ADVERTISE_URL": "https://orders-a.example:8443/"})
    assert registered(https).tls_server_name == "orders-a.example"


def test_a_server_name_without_an_https_address_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="ADVERTISE_TLS_SERVER_NAME"):
        Settings.from_environ(
            "orders",
            {"ADVERTISE_URL": "http://10.0.0.5:8012", "ADVERTISE_TLS_SERVER_NAME": "kn-user-shop"},
        )
