"""The local OIDC issuer: what the cluster's service-account issuer is to Eventing, for the
local broker and the tests. One RSA key (RS256, as Kubernetes signs) in the data dir, kept 0600;
its public JWKS written beside it for the functions; names of accounts and audiences as
Eventing makes them (knative/eventing pkg/auth)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shop.auth.events import EVENT_ALGORITHMS
from shop.auth.local_secret import local_secret
from shop.auth.tokens import TokenVerifier

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

ISSUER = "https://oidc.shop.localhost"
NAMESPACE = "shop"  # where knative/kustomization.yaml deploys: subjects and audiences name it
KEY_FILE = "events-oidc-key.pem"
JWKS_FILE = "events-oidc-jwks.json"
TOKEN_TTL = 3600
REPLAY_ACCOUNT = "shop-dlq-replay"
GROUPS = {
    "Trigger": "eventing.knative.dev",
    "PingSource": "sources.knative.dev",
    "SinkBinding": "sources.knative.dev",
}


def account(kind: str, name: str) -> str:
    """Eventing's OIDC service account of a resource (pkg/auth GetOIDCServiceAccountName...)."""
    suffix = f"-oidc-{GROUPS[kind]}-{kind}"
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
        self._key: RSAPrivateKey | None = None
        self._jwks: dict[str, Any] | None = None

    @property
    def key(self) -> RSAPrivateKey:
        """The private key, loaded once: loading (and checking) an RSA PEM costs ~100 ms."""
        if self._key is None:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

            key = serialization.load_pem_private_key(self._pem, password=None)
            assert isinstance(key, RSAPrivateKey)
            self._key = key
        return self._key

    def jwks(self) -> dict[str, Any]:
        if self._jwks is None:
            import jwt

            public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
            self._jwks = {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}
        return self._jwks

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
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    def verifier(self, aud: str) -> TokenVerifier:
        jwks = self.jwks()

        async def fetch() -> dict[str, Any]:
            return jwks

        return TokenVerifier(fetch, issuer=ISSUER, audience=aud, algorithms=EVENT_ALGORITHMS)


def _kid(pem: bytes) -> str:
    import hashlib

    return hashlib.sha256(pem).hexdigest()[:16]


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
