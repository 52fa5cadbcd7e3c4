from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from functions.users.controls import ControlHealth, errors_counter
from functions.users.counters import MemoryCounters
from functions.users.throttle import Count, Limits, LoginThrottle, client_network, refusal
from shop.runtime.errors import TooManyRequests

LIMITS = Limits(per_pair=3, per_client=10, per_account=5, window=300)


def throttle() -> LoginThrottle:
    return LoginThrottle(MemoryCounters(), LIMITS)


async def fail(t: LoginThrottle, username: str, client: str, times: int = 1) -> None:
    for _ in range(times):
        await t.check(username, client)
        await t.failed(username, client)


async def test_one_client_is_held_back_after_its_failures_on_one_account() -> None:
    t = throttle()
    await fail(t, "owner", "10.0.0.1", times=3)
    with pytest.raises(TooManyRequests) as refused:
        await t.check("owner", "10.0.0.1")
    assert 1 <= refused.value.retry_after <= 300


async def test_the_owner_logs_in_from_a_clean_client_while_rotating_addresses_attack() -> None:
    t = throttle()
    for n in range(20):  # far past the account's threshold, from 20 addresses
        await fail(t, "owner", f"10.0.1.{n}")
    await t.check("owner", "192.0.2.7")  # the owner's own client: not held back
    await t.succeeded("owner", "192.0.2.7")


async def test_an_account_under_attack_gives_each_failing_address_one_guess() -> None:
    t = throttle()
    for n in range(5):
        await fail(t, "owner", f"10.0.2.{n}")
    for n in range(5):
        with pytest.raises(TooManyRequests):
            await t.check("owner", f"10.0.2.{n}")  # below the pair limit, but the account backs off
    await fail(t, "owner", "10.0.2.99")  # a fresh address: one guess, then held back too
    with pytest.raises(TooManyRequests):
        await t.check("owner", "10.0.2.99")


async def test_one_client_spraying_many_accounts_is_held_back() -> None:
    t = throttle()
    for n in range(10):
        await fail(t, f"user{n}", "10.0.3.1")
    with pytest.raises(TooManyRequests):
        await t.check("someone-else", "10.0.3.1")
    await t.check("someone-else", "10.0.3.2")


async def test_the_owners_success_forgives_only_the_owners_own_slips() -> None:
    t = throttle()
    await fail(t, "owner", "192.0.2.7", times=2)
    await t.succeeded("owner", "192.0.2.7")
    await fail(t, "owner", "192.0.2.7", times=2)  # would be the 4th failure without forgiving
    await t.check("owner", "192.0.2.7")


def test_a_failing_control_is_counted_every_time_and_logged_once_per_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    health = ControlHealth("users", "login_throttle", errors_counter(registry), degraded="memory")
    with caplog.at_level(logging.WARNING, logger="shop.users.security"):
        for _ in range(3):
            health.failed(ConnectionError("refused"))
        health.working()
        health.working()
        health.failed(ConnectionError("refused"))
    labels = {"service": "users", "control": "login_throttle"}
    assert registry.get_sample_value("security_control_errors_total", labels) == 4
    assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING", "ERROR"]
    assert "login_throttle" in caplog.records[0].getMessage()


def test_a_client_that_slipped_during_an_attack_waits_for_its_own_window_not_the_attacks() -> None:
    pair, client, account = Count(1, 40_000), Count(1, 40_000), Count(500, 300_000)
    assert refusal(pair, client, account, LIMITS) == 40
    assert refusal(Count(0, 0), Count(0, 0), account, LIMITS) is None


@pytest.mark.parametrize(
    ("address", "client"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("unknown", "unknown"),
    ],
)
def test_one_ipv6_subscriber_with_a_whole_64_counts_as_one_client(
    address: str, client: str
) -> None:
    assert client_network(address) == client
