"""Who `shop dlq` is: the admin towards notifications' dead letters, the replay account
towards the broker (both endpoints refuse anyone else)."""

from __future__ import annotations

import os
from pathlib import Path


def admin_headers(data_dir: Path, users_url: str | None) -> dict[str, str]:
    """`$SHOP_ADMIN_TOKEN`, else the local stack's admin logs in at users (`shop up`)."""
    token = os.environ.get("SHOP_ADMIN_TOKEN", "").strip()
    if not token and users_url:
        import httpx

        from devtools.local_admin import local_admin

        username, password = local_admin(data_dir, os.environ)
        answer = httpx.post(
            f"{users_url}/auth/token", json={"username": username, "password": password}
        )
        answer.raise_for_status()
        token = str(answer.json()["access_token"])
    return {"authorization": f"Bearer {token}"} if token else {}


def replay_headers(data_dir: Path) -> dict[str, str]:
    """`$SHOP_REPLAY_TOKEN`, else a token from the local issuer for the replay account."""
    token = os.environ.get("SHOP_REPLAY_TOKEN", "").strip()
    if not token:
        from devtools.broker.oidc_issuer import REPLAY_ACCOUNT, LocalIssuer, audience, subject

        issuer = LocalIssuer(data_dir)
        token = issuer.mint(subject(REPLAY_ACCOUNT), audience("Broker", "default"), ttl=300)
    return {"authorization": f"Bearer {token}"}
