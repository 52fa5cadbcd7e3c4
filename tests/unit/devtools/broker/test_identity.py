"""The local broker's OIDC identity: what it costs per event (a mint, a key load, a verifier)
happens once, and a delivery's token is renewed well before it expires."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import pytest

from devtools.broker.identity import Gate, Presenter
from devtools.broker.manifests import Manifests, load
from devtools.broker.oidc_issuer import TOKEN_TTL, LocalIssuer, account, audience, subject
from shop.auth.tokens import TokenVerifier

ROOT = Path(__file__).resolve().parents[4]
EVENTING = ROOT / "knative" / "eventing"
NOTIFICATIONS = audience("Service", "notifications")


class CountingIssuer(LocalIssuer):
    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.minted = 0
        self.verifiers = 0

    def mint(self, sub: str, aud: str, **options: Any) -> str:
        self.minted += 1
        return super().mint(sub, aud, **options)

    def verifier(self, aud: str) -> TokenVerifier:
        self.verifiers += 1
        return super().verifier(aud)


@pytest.fixture(scope="module")
def manifests() -> Manifests:
    return load(EVENTING)


def _presenter(
    tmp_path: Path, manifests: Manifests, clock: list[float]
) -> tuple[Presenter, CountingIssuer, str]:
    issuer = CountingIssuer(tmp_path)
    presenter = Presenter(issuer, manifests, clock=lambda: clock[0])
    trigger = next(t for t in manifests.triggers if t.subscriber.name == "notifications")
    url = "http://127.0.0.1:8001/events"
    presenter.tracking(lambda _: url)(trigger.subscriber)
    return presenter, issuer, url


def test_a_deliverys_token_is_minted_once_and_reused_until_half_its_life(
    tmp_path: Path, manifests: Manifests
) -> None:
    clock = [1_000.0]
    presenter, issuer, url = _presenter(tmp_path, manifests, clock)
    first = presenter.token_for(url)
    clock[0] += TOKEN_TTL / 2 - 1
    assert presenter.token_for(url) == first
    assert issuer.minted == 1
    assert first is not None
    assert jwt.decode(first, options={"verify_signature": False})["aud"] == [NOTIFICATIONS]


def test_a_deliverys_token_is_renewed_before_it_expires(
    tmp_path: Path, manifests: Manifests
) -> None:
    clock = [1_000.0]
    presenter, issuer, url = _presenter(tmp_path, manifests, clock)
    first = presenter.token_for(url)
    clock[0] += TOKEN_TTL / 2  # half its life: renewed, though still valid for as long again
    renewed = presenter.token_for(url)
    assert issuer.minted == 2
    assert renewed != first


def test_an_unknown_url_gets_no_token(tmp_path: Path, manifests: Manifests) -> None:
    presenter, issuer, _ = _presenter(tmp_path, manifests, [0.0])
    assert presenter.token_for("http://127.0.0.1:9/elsewhere") is None
    assert issuer.minted == 0


async def test_the_ingress_builds_one_verifier_per_audience_and_remembers_its_tokens(
    tmp_path: Path,
) -> None:
    issuer = CountingIssuer(tmp_path)
    gate = Gate(issuer, EVENTING)
    sender = subject(account("SinkBinding", "orders-to-broker"))
    headers = {"authorization": f"Bearer {issuer.mint(sender, audience('Broker', 'default'))}"}
    for _ in range(3):
        assert await gate.refusal(headers, "default") is None
    assert issuer.verifiers == 1


def test_the_issuer_loads_its_key_and_builds_its_jwks_once(tmp_path: Path) -> None:
    issuer = LocalIssuer(tmp_path)
    issuer.mint("a", "b")
    key, jwks = issuer.key, issuer.jwks()
    issuer.mint("a", "b")
    assert issuer.key is key
    assert issuer.jwks() is jwks
