from __future__ import annotations

import pytest

from shop.events.outbox_relay import RelaySettings
from shop.events.relay import RelayPolicy
from shop.runtime.settings import SettingsError


def test_k_sink_from_a_sinkbinding_wins_over_broker_url() -> None:
    settings = RelaySettings.from_environ(
        {"K_SINK": "http://broker-ingress/ns/default", "BROKER_URL": "http://127.0.0.1:1/x"}
    )
    assert settings.sink == "http://broker-ingress/ns/default"
    assert RelaySettings.from_environ({"BROKER_URL": "http://b/x"}).sink == "http://b/x"
    assert RelaySettings.from_environ({}).sink is None


def test_ce_overrides_and_tuning_are_read() -> None:
    settings = RelaySettings.from_environ(
        {
            "K_CE_OVERRIDES": '{"extensions": {"cluster": "eu"}}',
            "OUTBOX_BATCH_SIZE": "7",
            "OUTBOX_SWEEP_SECONDS": "0.5",
        }
    )
    assert settings.overrides == {"extensions": {"cluster": "eu"}}
    assert settings.policy.batch_size == 7
    assert settings.policy.sweep_seconds == 0.5


@pytest.mark.parametrize(
    "environ",
    [{"K_SINK": "broker:8080"}, {"K_CE_OVERRIDES": "{nope"}, {"OUTBOX_BATCH_SIZE": "0"}],
)
def test_bad_relay_settings_are_refused(environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        RelaySettings.from_environ(environ)


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    policy = RelayPolicy(base_backoff_ms=100, max_backoff_ms=1000)
    assert 80 <= policy.backoff_ms(1) <= 120
    assert 320 <= policy.backoff_ms(3) <= 480
    assert 800 <= policy.backoff_ms(30) <= 1200
