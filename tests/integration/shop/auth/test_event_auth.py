"""shop.auth.events on the one TokenVerifier: RS256 service-account tokens with a list audience,
the JWKS found by OIDC discovery and fetched with a bearer token, and no crossing between a
users token and an event token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.broker.oidc_issuer import ISSUER, LocalIssuer
from shop.auth.events import EventAuth, EventAuthSettings, EventClaims
from shop.auth.tokens import TokenVerifier
from shop.runtime.errors import Forbidden, Unauthenticated
from tests.support.recorder import Recorded, Recorder, Reply

pytestmark = pytest.mark.integration
AUD = "serving.knative.dev/service/shop/notifications"
SENDER = "system:serviceaccount:shop:a-trigger"


def _discovery(issuer: LocalIssuer) -> Recorder:
    def respond(request: Recorded) -> Reply:
        json_type = {"content-type": "application/json"}
        if request.path == "/.well-known/openid-configuration":
            body = {"issuer": recorder.url, "jwks_uri": f"{recorder.url}/openid/v1/jwks"}
            return Reply(200, json.dumps(body).encode(), json_type)
        if request.path == "/openid/v1/jwks":
            return Reply(200, json.dumps(issuer.jwks()).encode(), json_type)
        return Reply(404)

    recorder = Recorder(respond=respond)
    return recorder


async def test_the_jwks_is_found_by_discovery_and_fetched_with_the_projected_token(
    tmp_path: Path,
) -> None:
    issuer = LocalIssuer(tmp_path)
    (tmp_path / "sa-token").write_text("projected-token\n")
    with _discovery(issuer) as server:
        settings = EventAuthSettings(
            issuer=server.url, audience=AUD, jwks_token_file=str(tmp_path / "sa-token")
        )
        auth = EventAuth(settings)
        token = issuer.mint(SENDER, AUD, issuer=server.url)
        claims = await auth.sender(f"Bearer {token}")
        assert (claims.sub, claims.aud) == (SENDER, [AUD])
        (jwks,) = server.on("/openid/v1/jwks")
        assert jwks.headers["authorization"] == "Bearer projected-token"


async def test_a_subject_outside_the_list_is_forbidden(tmp_path: Path) -> None:
    issuer = LocalIssuer(tmp_path)
    jwks = f"file:{issuer.write_jwks()}"
    settings = EventAuthSettings(issuer=ISSUER, audience=AUD, jwks_url=jwks, subjects=("x",))
    with pytest.raises(Forbidden):
        await EventAuth(settings).sender(f"Bearer {issuer.mint(SENDER, AUD)}")


async def test_a_users_token_verifier_refuses_rs256_even_from_a_key_it_holds(
    tmp_path: Path,
) -> None:
    issuer = LocalIssuer(tmp_path)

    async def fetch() -> dict[str, object]:
        return issuer.jwks()

    users = TokenVerifier(fetch, issuer=ISSUER, audience=AUD)
    with pytest.raises(Unauthenticated, match="algorithm"):
        await users.verify(issuer.mint(SENDER, AUD))


async def test_an_event_token_remembered_as_event_claims_never_passes_as_a_users_token(
    tmp_path: Path,
) -> None:
    issuer = LocalIssuer(tmp_path)
    jwks = f"file:{issuer.write_jwks()}"
    auth = EventAuth(EventAuthSettings(issuer=ISSUER, audience=AUD, jwks_url=jwks))
    token = issuer.mint(SENDER, AUD)
    assert isinstance(await auth.verifier.verify_as(token, EventClaims), EventClaims)
    with pytest.raises(Unauthenticated, match="incomplete"):
        await auth.verifier.verify(token)  # no role: not a users token, cached or not
