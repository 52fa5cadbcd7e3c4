"""The local stand-in for Eventing's `authentication-oidc`: a local issuer and its senders.

In a cluster the API server's service-account issuer signs each sender's token (a Trigger's,
a PingSource's, a SinkBinding's OIDC service account) for the receiver's audience, and the
Broker ingress admits only the subjects its EventPolicies name. Locally one RSA key in the data
dir plays the issuer: the broker presents tokens it mints on its deliveries and pings, writes
each SinkBinding's token where the producers read it (as the SinkBinding's /oidc/token), and
checks tokens at its ingress against `eventpolicies.yaml`. Subjects and audiences come from the
manifests in knative/eventing, so the functions verify exactly what they would in the cluster.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from devtools.broker.manifests import Destination, Manifests
from shop.auth.events import EVENT_ALGORITHMS, EventClaims
from shop.auth.local_secret import local_secret
from shop.auth.tokens import TokenVerifier, bearer

ISSUER = "https://oidc.shop.localhost"
NAMESPACE = "shop"  # where knative/kustomization.yaml deploys: subjects and audiences name it
KEY_FILE = "events-oidc-key.pem"
JWKS_FILE = "events-oidc-jwks.json"
TOKEN_TTL = 3600
REPLAY_ACCOUNT = "shop-dlq-replay"
_GROUPS = {
    "Trigger": "eventing.knative.dev",
    "PingSource": "sources.knative.dev",
    "SinkBinding": "sources.knative.dev",
}


def account(kind: str, name: str) -> str:
    """Eventing's OIDC service account of a resource (pkg/auth GetOIDCServiceAccountName...)."""
    suffix = f"-oidc-{_GROUPS[kind]}-{kind}"
    if len(name) + len(suffix) > 63:
        raise ValueError(f"{kind} {name}: its OIDC account name would be hashed; keep it shorter")
    return (name + suffix).lower()


def subject(service_account: str, namespace: str = NAMESPACE) -> str:
    return f"system:serviceaccount:{namespace}:{service_account}"


def audience(kind: str, name: str, namespace: str = NAMESPACE) -> str:
    """Knative's audience of an addressable: <group>/<kind>/<namespace>/<name>, lower case."""
    group = {"Broker": "eventing.knative.dev", "Service": "serving.knative.dev"}[kind]
    return f"{group}/{kind}/{namespace}/{name}".lower()


class LocalIssuer:
    def __init__(self, data_dir: str | Path) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        def generate() -> bytes:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )

        self.data_dir = Path(data_dir)
        self._pem = local_secret(str(data_dir), KEY_FILE, generate)
        self.kid = _kid(self._pem)

    def jwks(self) -> dict[str, Any]:
        import jwt
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(self._pem, password=None)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))  # type: ignore[arg-type]
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def write_jwks(self) -> Path:
        """The JWKS file the functions read (`EVENTS_OIDC_JWKS_URL=file:...`)."""
        path = self.data_dir / JWKS_FILE
        path.write_text(json.dumps(self.jwks()))
        return path

    def mint(self, sub: str, aud: str, *, ttl: int = TOKEN_TTL, issuer: str = ISSUER) -> str:
        import jwt

        now = int(time.time())
        claims = {"iss": issuer, "sub": sub, "aud": [aud], "iat": now, "nbf": now}
        claims |= {"exp": now + ttl, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self._pem, algorithm="RS256", headers={"kid": self.kid})

    def verifier(self, aud: str) -> TokenVerifier:
        jwks = self.jwks()

        async def fetch() -> dict[str, Any]:
            return jwks

        return TokenVerifier(fetch, issuer=ISSUER, audience=aud, algorithms=EVENT_ALGORITHMS)


def _kid(pem: bytes) -> str:
    import hashlib

    return hashlib.sha256(pem).hexdigest()[:16]


def documents(directory: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.y*ml")):
        with path.open() as handle:
            found += [doc for doc in yaml.safe_load_all(handle) if doc]
    return found


def senders(manifests: Manifests) -> dict[Destination, list[str]]:
    """Who delivers to each destination: a Trigger's account to its subscriber and dead-letter
    sink, a PingSource's to its sink."""
    found: dict[Destination, list[str]] = {}
    for trigger in manifests.triggers:
        who = subject(account("Trigger", trigger.name))
        found.setdefault(trigger.subscriber, []).append(who)
        dead = manifests.delivery_for(trigger).dead_letter
        if dead is not None:
            found.setdefault(dead, []).append(who)
    for ping in manifests.pings:
        found.setdefault(ping.sink, []).append(subject(account("PingSource", ping.name)))
    return found


def senders_to(manifests: Manifests, service: str) -> list[str]:
    """The subjects that deliver to a Knative Service (its `EVENTS_OIDC_SUBJECTS`)."""
    return sorted({w for d, who in senders(manifests).items() if d.name == service for w in who})


def allowed_at_broker(docs: Iterable[Mapping[str, Any]], broker: str) -> list[str]:
    """The `from` subjects of the EventPolicies whose `to` names `broker` (`*` ends a prefix)."""
    allowed: list[str] = []
    for doc in docs:
        if doc.get("kind") != "EventPolicy":
            continue
        spec = doc.get("spec") or {}
        targets = [t.get("ref") or {} for t in spec.get("to") or []]
        if not any(t.get("kind") == "Broker" and t.get("name") == broker for t in targets):
            continue
        for source in spec.get("from") or []:
            if source.get("sub"):
                allowed.append(str(source["sub"]))
            elif (ref := source.get("ref")) and ref.get("kind") in _GROUPS:
                namespace = ref.get("namespace") or NAMESPACE
                allowed.append(subject(account(ref["kind"], ref["name"]), namespace))
    return allowed


def admitted(sub: str, allowed: Iterable[str]) -> bool:
    return any(sub == a or (a.endswith("*") and sub.startswith(a[:-1])) for a in allowed)


def sink_binding_tokens(issuer: LocalIssuer, docs: Iterable[Mapping[str, Any]]) -> list[Path]:
    """Write each SinkBinding's token (for its sink's audience) as Eventing projects it."""
    written: list[Path] = []
    for doc in docs:
        if doc.get("kind") != "SinkBinding":
            continue
        name = doc["metadata"]["name"]
        ref = (doc.get("spec") or {}).get("sink", {}).get("ref") or {}
        aud = (doc["spec"]["sink"].get("audience")) or audience(ref["kind"], ref["name"])
        path = token_path(issuer.data_dir, name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(issuer.mint(subject(account("SinkBinding", name)), aud))
        temporary.chmod(0o600)
        temporary.replace(path)
        written.append(path)
    return written


def token_path(data_dir: Path, sink_binding: str) -> Path:
    return data_dir / "oidc" / sink_binding / "token"


class Presenter:
    """Remembers which destination each resolved URL is for, and, as an `httpx.Auth` hook on
    the broker's client, presents that destination's sender token for its audience (when
    several Triggers share a subscriber, the first one's account: the local broker does not
    tell its deliveries apart, Eventing's filter does)."""

    def __init__(self, issuer: LocalIssuer, manifests: Manifests) -> None:
        self.issuer = issuer
        self.senders = senders(manifests)
        self._by_url: dict[str, Destination] = {}
        self._minted: dict[tuple[str, str], tuple[float, str]] = {}

    def tracking(
        self, resolve: Callable[[Destination], str | None]
    ) -> Callable[[Destination], str | None]:
        def tracked(destination: Destination) -> str | None:
            url = resolve(destination)
            if url is not None:
                self._by_url[_key(url)] = destination
            return url

        return tracked

    def auth(self) -> Any:
        import httpx

        presenter = self

        class Present(httpx.Auth):
            def auth_flow(self, request: httpx.Request) -> Any:
                token = presenter.token_for(str(request.url))
                if token:
                    request.headers["authorization"] = f"Bearer {token}"
                yield request

        return Present()

    def token_for(self, url: str) -> str | None:
        destination = self._by_url.get(_key(url))
        if destination is None or destination not in self.senders:
            return None
        aud = destination.audience or audience("Service", destination.name or "")
        key = (self.senders[destination][0], aud)
        renew_at, token = self._minted.get(key, (0.0, ""))
        if time.time() >= renew_at:  # reused, as Eventing caches its tokens (1 h, renewed early)
            token = self.issuer.mint(*key)
            self._minted[key] = (time.time() + TOKEN_TTL / 2, token)
        return token


def _key(url: str) -> str:
    import httpx

    return str(httpx.URL(url))


class Gate:
    """The broker ingress's check: a token from the local issuer for the broker's audience,
    from a subject an EventPolicy admits (Eventing's default without one: allow-same-namespace
    is not modelled; a broker without a policy admits any verified sender)."""

    def __init__(self, issuer: LocalIssuer, directory: Path) -> None:
        self.issuer = issuer
        self.docs = documents(directory)
        self._verifiers: dict[str, TokenVerifier] = {}

    async def refusal(self, headers: Mapping[str, str], broker: str) -> tuple[int, str] | None:
        from shop.runtime.errors import Unauthenticated

        aud = audience("Broker", broker)
        verifier = self._verifiers.setdefault(aud, self.issuer.verifier(aud))
        try:
            claims = await verifier.verify_as(bearer(headers.get("authorization")), EventClaims)
        except Unauthenticated as exc:
            return 401, str(exc)
        allowed = allowed_at_broker(self.docs, broker)
        if allowed and not admitted(claims.sub, allowed):
            return 403, f"no EventPolicy admits {claims.sub} to broker {broker}"
        return None


class Identity:
    """All of it for the broker's composition root: one-line hooks in app.py."""

    def __init__(self, data_dir: str, manifests: Manifests, directory: Path) -> None:
        self.issuer = LocalIssuer(data_dir)
        self.issuer.write_jwks()
        self.presenter = Presenter(self.issuer, manifests)
        self.gate = Gate(self.issuer, directory)
        from shop.runtime.background import Background

        self._loops = Background()

    def start(self) -> None:
        """Write the SinkBindings' tokens now and renew them well before they expire."""
        import asyncio

        sink_binding_tokens(self.issuer, self.gate.docs)

        async def renew() -> None:
            while True:
                await asyncio.sleep(TOKEN_TTL / 4)
                sink_binding_tokens(self.issuer, self.gate.docs)

        self._loops.start("oidc-token-renewal", renew)

    async def stop(self) -> None:
        await self._loops.stop()


def local_env(data_dir: Path, service: str, directory: Path) -> dict[str, str]:
    """What `shop up` hands a function: the local issuer to trust, who may send it events, and
    for a producer the file its SinkBinding's token is written to."""
    from devtools.broker.manifests import load

    issuer = LocalIssuer(data_dir)
    jwks = issuer.write_jwks()
    env = {
        "EVENTS_OIDC_ISSUER": ISSUER,
        "EVENTS_OIDC_JWKS_URL": f"file:{jwks}",
        "EVENTS_OIDC_AUDIENCE": audience("Service", service),
        "EVENTS_OIDC_SUBJECTS": ",".join(senders_to(load(directory), service)),
    }
    for doc in documents(directory):
        target = (doc.get("spec") or {}).get("subject") or {}
        if doc.get("kind") == "SinkBinding" and target.get("name") == service:
            env["EVENTS_OIDC_TOKEN_FILE"] = str(token_path(data_dir, doc["metadata"]["name"]))
    return env


def events_env(data_dir: Path, service: str) -> dict[str, str]:
    import os

    from devtools.broker.app import DEFAULT_MANIFESTS

    directory = Path(os.environ.get("BROKER_MANIFESTS") or DEFAULT_MANIFESTS)
    return local_env(data_dir, service, directory)
