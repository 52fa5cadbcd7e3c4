"""The users function's signing keys: from a Secret (env or mounted file), else generated once
into the data directory. Several PEM keys may be given: the first signs, all are published."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

from shop.auth.local_secret import local_secret

LOCAL_KEY_FILE = "jwt-signing-key.pem"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SigningKeys:
    def __init__(self, pems: list[bytes]) -> None:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        if not pems:
            raise ValueError("at least one signing key is required")
        self._private: list[Any] = [load_pem_private_key(pem, password=None) for pem in pems]
        self._public = [_public_jwk(key) for key in self._private]
        self.kid: str = self._public[0]["kid"]
        self.algorithm: str = self._public[0]["alg"]

    def jwks(self) -> dict[str, Any]:
        return {"keys": list(self._public)}

    def sign(self, claims: dict[str, Any]) -> str:
        import jwt

        return jwt.encode(
            claims, self._private[0], algorithm=self.algorithm, headers={"kid": self.kid}
        )

    def issue(
        self, *, subject: str, role: str, email: str, issuer: str, audience: str, ttl: int
    ) -> str:
        now = int(time.time())
        return self.sign(
            {
                "sub": subject,
                "role": role,
                "email": email,
                "iss": issuer,
                "aud": audience,
                "iat": now,
                "exp": now + ttl,
            }
        )


def split_pems(text: bytes) -> list[bytes]:
    marker = b"-----BEGIN "
    parts = [marker + chunk for chunk in text.split(marker)[1:]]
    return [part.strip() + b"\n" for part in parts]


def generate_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def local_key(data_dir: str) -> bytes:
    """The local mode's key, generated once (two instances may start together)."""
    return local_secret(data_dir, LOCAL_KEY_FILE, generate_pem)


def _public_jwk(private: Any) -> dict[str, str]:
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePrivateKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    if isinstance(private, Ed25519PrivateKey):
        raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        members = {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}
        alg = "EdDSA"
    elif isinstance(private, EllipticCurvePrivateKey) and isinstance(private.curve, SECP256R1):
        numbers = private.public_key().public_numbers()
        members = {
            "crv": "P-256",
            "kty": "EC",
            "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")),
        }
        alg = "ES256"
    else:
        raise ValueError("signing keys must be Ed25519 or EC P-256")
    # RFC 7638 thumbprint: the canonical JSON of the required members, sorted, no spaces.
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    kid = _b64(hashlib.sha256(canonical).digest())
    return {**members, "kid": kid, "alg": alg, "use": "sig"}
