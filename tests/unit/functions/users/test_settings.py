from __future__ import annotations

from pathlib import Path

import pytest

from functions.orders.settings import OrdersSettings
from functions.products.settings import ProductsSettings
from functions.users.keys import SigningKeys, generate_pem, local_key, split_pems
from functions.users.settings import UsersSettings
from shop.runtime.settings import SettingsError


def test_the_admin_needs_both_variables_and_a_long_password() -> None:
    with pytest.raises(SettingsError):
        UsersSettings.from_environ({"SHOP_ADMIN_USERNAME": "root"})
    with pytest.raises(SettingsError):
        UsersSettings.from_environ({"SHOP_ADMIN_USERNAME": "root", "SHOP_ADMIN_PASSWORD": "short"})


def test_the_signing_key_comes_from_a_mounted_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "key.pem"
    secret.write_bytes(generate_pem())
    settings = UsersSettings.from_environ({"JWT_PRIVATE_KEY_FILE": str(secret)})
    assert settings.private_key_pem == secret.read_bytes()
    with pytest.raises(SettingsError):
        UsersSettings.from_environ({"JWT_PRIVATE_KEY_FILE": str(tmp_path / "missing.pem")})


def test_the_local_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = local_key(str(tmp_path))
    assert local_key(str(tmp_path)) == first
    assert (tmp_path / "jwt-signing-key.pem").stat().st_mode & 0o077 == 0


def test_several_keys_publish_several_jwks_entries_with_stable_kids() -> None:
    pems = split_pems(generate_pem() + b"\n" + generate_pem())
    keys = SigningKeys(pems)
    again = SigningKeys(pems)
    assert [k["kid"] for k in keys.jwks()["keys"]] == [k["kid"] for k in again.jwks()["keys"]]
    assert len(keys.jwks()["keys"]) == 2
    assert all("d" not in k for k in keys.jwks()["keys"])


def test_the_demo_catalog_is_on_only_for_the_embedded_database() -> None:
    assert ProductsSettings.from_environ({}).demo_catalog
    assert not ProductsSettings.from_environ({"DATABASE_URL": "postgresql://x/y"}).demo_catalog
    assert ProductsSettings.from_environ(
        {"DATABASE_URL": "postgresql://x/y", "SHOP_DEMO_CATALOG": "1"}
    ).demo_catalog


def test_idempotency_keys_are_kept_at_least_a_day() -> None:
    with pytest.raises(SettingsError):
        OrdersSettings.from_environ({"IDEMPOTENCY_KEY_TTL_SECONDS": "60"})
    assert OrdersSettings.from_environ({}).idempotency_ttl == 86_400


def test_the_throttle_and_hashing_shares_are_configurable_and_at_least_one() -> None:
    settings = UsersSettings.from_environ(
        {"LOGIN_FAILURES_PER_PAIR": "7", "PASSWORD_HASHES_PER_CLIENT": "3"}
    )
    assert (settings.login_failures_per_pair, settings.password_hashes_per_client) == (7, 3)
    defaults = UsersSettings.from_environ({})
    assert (defaults.login_failures_per_pair, defaults.password_hashes_per_client) == (5, 2)
    with pytest.raises(SettingsError):
        UsersSettings.from_environ({"PASSWORD_HASHES_PER_CLIENT": "0"})
