"""Minting test tokens: good ones from a real key, and the attacks a verifier must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from functions.users.keys import SigningKeys, generate_pem


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenFactory:
    def __init__(self, keys: SigningKeys | None = None, *, issuer: str = "shop") -> None:
        self.keys = keys or SigningKeys([generate_pem()])
        self.issuer = issuer

    async def jwks(self) -> dict[str, Any]:
        return self.keys.jwks()

    def claims(self, sub: str = "user-1", role: str = "customer", **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        return {
            "sub": sub,
            "role": role,
            "email": f"{sub}@example.com",
            "iss": self.issuer,
            "aud": "shop",
            "iat": now,
            "exp": now + 600,
            **extra,
        }

    def token(self, sub: str = "user-1", role: str = "customer", **extra: Any) -> str:
        return self.keys.sign(self.claims(sub, role, **extra))

    def expired(self, sub: str = "user-1") -> str:
        past = int(time.time()) - 3600
        return self.token(sub, iat=past - 600, exp=past)

    def unsigned(self, sub: str = "user-1", role: str = "admin") -> str:
        """`alg: none`, naming the real key."""
        header = {"alg": "none", "typ": "JWT", "kid": self.keys.kid}
        body = self.claims(sub, role)
        return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}."

    def hmac_with_public_key(self, sub: str = "user-1", role: str = "admin") -> str:
        """HS256 keyed with the published public key: the classic algorithm confusion."""
        header = {"alg": "HS256", "typ": "JWT", "kid": self.keys.kid}
        body = self.claims(sub, role)
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"
        secret = json.dumps(self.keys.jwks()["keys"][0]).encode()
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"

    def forged(self, sub: str = "user-1", role: str = "admin") -> str:
        """Signed by another key that claims the real key's kid."""
        other = SigningKeys([generate_pem()])
        other.kid = self.keys.kid
        return other.sign(self.claims(sub, role))
