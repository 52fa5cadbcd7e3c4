"""The users domain: accounts and roles. Pure: no I/O here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shop.runtime.clock import now_us

CUSTOMER = "customer"
ADMIN = "admin"
REGISTERED = "shop.user.registered.v1"
SOURCE = "/users"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    email: str
    role: str
    created_us: int
    password_hash: str

    @classmethod
    def new(cls, username: str, email: str, password_hash: str, role: str = CUSTOMER) -> User:
        return cls(str(uuid.uuid4()), username, email.lower(), role, now_us(), password_hash)

    def registered_event(self) -> dict[str, str]:
        return {"user_id": self.id, "username": self.username, "email": self.email}

    def visible_to(self, subject: str, role: str) -> bool:
        return role == ADMIN or subject == self.id
