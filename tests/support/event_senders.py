"""Event senders' OIDC tokens from the local issuer (devtools/broker/identity.py), as the local
broker mints them, and the attacks an event endpoint must refuse."""

from __future__ import annotations

from pathlib import Path

from devtools.broker.identity import events_env
from devtools.broker.oidc_issuer import ISSUER, LocalIssuer, account, audience, subject

TRIGGER = subject(account("Trigger", "notifications-order-confirmed"))
ORDERS_PING = subject(account("PingSource", "orders-outbox-flush"))
USERS_PING = subject(account("PingSource", "users-outbox-flush"))
ORDERS_BINDING = subject(account("SinkBinding", "orders-to-broker"))
BROKER = audience("Broker", "default")


class Senders:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.issuer = LocalIssuer(data_dir)

    def env(self, service: str) -> dict[str, str]:
        """What `shop up` hands `service`: the local issuer and its allowed senders."""
        return events_env(self.data_dir, service)

    def token(self, sub: str, aud: str, *, ttl: int = 600) -> str:
        return self.issuer.mint(sub, aud, ttl=ttl)

    def headers(self, service: str = "notifications", sub: str = TRIGGER) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(sub, audience('Service', service))}"}

    def to_broker(self, sub: str = ORDERS_BINDING) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(sub, BROKER)}"}

    def attacks(self, service: str, sub: str) -> dict[str, dict[str, str]]:
        """Requests a sink must refuse with 401: each one name and its headers."""
        aud = audience("Service", service)
        other_issuer = LocalIssuer(self.data_dir / "elsewhere")
        return {
            "no token": {},
            "not a bearer": {"authorization": f"Basic {self.token(sub, aud)}"},
            "another audience": {"authorization": f"Bearer {self.token(sub, BROKER)}"},
            "expired": {"authorization": f"Bearer {self.token(sub, aud, ttl=-120)}"},
            "foreign issuer key": {"authorization": f"Bearer {other_issuer.mint(sub, aud)}"},
            "foreign issuer name": {
                "authorization": f"Bearer {self.issuer.mint(sub, aud, issuer=ISSUER + '.evil')}"
            },
            "garbage": {"authorization": "Bearer not.a.jwt"},
        }
