"""Sender identity on the event endpoints, as Knative Eventing's `authentication-oidc` has it.

The Broker's filter (for a Trigger), a PingSource and a SinkBinding present an OIDC token
(`Authorization: Bearer`) that the cluster's service-account issuer signed for the receiver's
audience; the subject is `system:serviceaccount:<namespace>:<sender's OIDC account>`. An event
endpoint checks the signature (the issuer's JWKS), issuer, audience and expiry with the one
`TokenVerifier`, then the subject against `EVENTS_OIDC_SUBJECTS` (what an EventPolicy says for
a Broker; Knative does not enforce EventPolicies on a Knative Service, so the function does).
Locally the broker mints the same tokens from its own issuer (devtools/broker/identity.py).

Fail closed: with no issuer configured every event is refused (401).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.di import NamedDependency

from shop.auth.tokens import ALGORITHMS, TokenVerifier, bearer
from shop.runtime.errors import Forbidden, Unauthenticated, Unavailable
from shop.runtime.schema import Schema, env, parse

EVENT_ALGORITHMS = ALGORITHMS | {"RS256"}
"""Kubernetes signs service-account tokens with RS256 (or ES256); the local issuer with RS256."""


class EventClaims(msgspec.Struct, frozen=True):
    sub: str
    iss: str
    aud: str | list[str]
    exp: int
    iat: int


class EventAuthSettings(Schema, frozen=True, kw_only=True):
    issuer: Annotated[
        str,
        env("EVENTS_OIDC_ISSUER", "The event senders' token issuer; unset: every event is 401."),
    ] = ""
    audience: Annotated[
        str, env("EVENTS_OIDC_AUDIENCE", "The audience event tokens must name (this service).")
    ] = ""
    jwks_url: Annotated[
        str,
        env(
            "EVENTS_OIDC_JWKS_URL",
            "The issuer's JWKS (http(s) or file:); unset: OIDC discovery on the issuer.",
        ),
    ] = ""
    subjects: Annotated[
        tuple[str, ...],
        env("EVENTS_OIDC_SUBJECTS", "Comma-separated subjects allowed to send; unset: any."),
    ] = ()
    jwks_token_file: Annotated[
        str,
        env("EVENTS_OIDC_JWKS_TOKEN_FILE", "A bearer token for fetching the JWKS."),
    ] = ""
    ca_file: Annotated[
        str, env("EVENTS_OIDC_CA_FILE", "A CA bundle for the issuer's HTTPS endpoints.")
    ] = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> EventAuthSettings:
        return parse(cls, environ)


class JwksSource:
    """Fetches the issuer's JWKS: `file:` (local), a URL, or discovery on the issuer."""

    def __init__(self, settings: EventAuthSettings, timeout: float = 5.0) -> None:
        self.settings = settings
        self.timeout = timeout

    async def __call__(self) -> dict[str, Any]:
        url = self.settings.jwks_url
        if url.startswith("file:"):
            return _object(_read(url.removeprefix("file://").removeprefix("file:")))
        if not url:
            discovery = f"{self.settings.issuer.rstrip('/')}/.well-known/openid-configuration"
            url = str((await self._get(discovery)).get("jwks_uri", ""))
            if not url:
                raise Unavailable("The issuer's discovery document names no jwks_uri.")
        return await self._get(url)

    async def _get(self, url: str) -> dict[str, Any]:
        import httpx

        headers = {}
        if self.settings.jwks_token_file:
            token = _read(self.settings.jwks_token_file).decode().strip()
            headers["authorization"] = f"Bearer {token}"
        verify: str | bool = self.settings.ca_file or True
        async with httpx.AsyncClient(timeout=self.timeout, verify=verify) as client:
            response = await client.get(url, headers=headers)
        if response.status_code != 200:
            raise Unavailable(f"{url} answered {response.status_code}.", retry_after=1)
        return _object(response.content)


def _read(path: str) -> bytes:
    return Path(path).read_bytes()  # a small local file: the JWKS or a projected token


def _object(raw: bytes) -> dict[str, Any]:
    found = msgspec.json.decode(raw)
    if not isinstance(found, dict):
        raise ValueError("a JWKS is a JSON object")
    return found


class EventAuth:
    """Checks an event request's sender; `Unauthenticated` (401) or `Forbidden` (403)."""

    def __init__(self, settings: EventAuthSettings, verifier: TokenVerifier | None = None) -> None:
        self.settings = settings
        self.verifier = verifier or TokenVerifier(
            JwksSource(settings),
            issuer=settings.issuer,
            audience=settings.audience,
            algorithms=EVENT_ALGORITHMS,
        )

    async def sender(self, authorization: str | None) -> EventClaims:
        token = bearer(authorization)
        if not self.settings.issuer or not self.settings.audience:
            raise Unauthenticated("No event token issuer is configured: events are refused.")
        claims = await self.verifier.verify_as(token, EventClaims)
        if self.settings.subjects and claims.sub not in self.settings.subjects:
            raise Forbidden(f"{claims.sub} may not send events here.")
        return claims


async def provide_sender(
    request: Request[Any, Any, Any], event_auth: NamedDependency[EventAuth]
) -> EventClaims:
    """A Litestar dependency (`sender: EventClaims`): the verified sender of an event request."""
    return await event_auth.sender(request.headers.get("authorization"))


class TokenFile:
    """The OIDC token in `path`, to present as `Authorization: Bearer` (a `shop.events.poster`
    token), read again whenever the file changes: in Knative a SinkBinding projects it at
    /oidc/token and renews it, locally the broker writes it (devtools/broker/identity.py)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._seen: tuple[float, str] = (-1.0, "")

    def __call__(self, url: str) -> str | None:
        try:
            changed = self.path.stat().st_mtime
            if changed != self._seen[0]:
                self._seen = (changed, self.path.read_text().strip())
        except OSError:
            self._seen = (-1.0, "")  # not there (yet): send none, the sink answers 401
        return self._seen[1] or None
