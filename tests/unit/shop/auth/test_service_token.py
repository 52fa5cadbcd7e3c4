from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shop.auth import service_token
from shop.auth.service_token import ServiceTokenSettings
from shop.runtime.errors import Unauthenticated
from shop.runtime.schema import parse
from shop.runtime.settings import SettingsError


class Connection:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


def configured(env: dict[str, str]) -> str:
    return parse(ServiceTokenSettings, env).token


def test_the_token_comes_from_the_environment_or_its_file(tmp_path: Path) -> None:
    mounted = tmp_path / "token"
    mounted.write_text("from-a-mounted-secret\n")

    assert configured({"INTERNAL_API_TOKEN": "from-the-env-directly"}) == ("from-the-env-directly")
    assert configured({"INTERNAL_API_TOKEN_FILE": str(mounted)}) == ("from-a-mounted-secret")
    assert configured({}) == ""


@pytest.mark.parametrize(
    "env",
    [{"INTERNAL_API_TOKEN": "short"}, {"INTERNAL_API_TOKEN_FILE": "/nonexistent/token"}],
)
def test_a_short_or_unreadable_token_is_a_settings_error(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        parse(ServiceTokenSettings, env)


def test_the_local_mode_makes_one_token_every_instance_shares(tmp_path: Path) -> None:
    first = service_token.resolve("", str(tmp_path))

    assert service_token.resolve("", str(tmp_path)) == first
    assert len(first) >= 32
    assert (tmp_path / service_token.LOCAL_FILE).stat().st_mode & 0o777 == 0o600
    assert service_token.resolve("configured-token-wins", str(tmp_path)) == "configured-token-wins"


def test_the_guard_lets_the_right_token_through_and_nothing_else() -> None:
    check = service_token.guard(lambda: "the-right-token-here")

    asyncio.run(check(Connection({"x-internal-token": "the-right-token-here"}), None))
    for headers in ({}, {"x-internal-token": "the-wrong-token-here"}):
        with pytest.raises(Unauthenticated):
            asyncio.run(check(Connection(headers), None))
