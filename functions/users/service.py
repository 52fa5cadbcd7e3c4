"""The users service layer: registration, login and lookups, each one unit of work."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from functions.users import store
from functions.users.keys import SigningKeys
from functions.users.model import ADMIN, REGISTERED, SOURCE, User
from functions.users.passwords import LOCAL, Passwords
from functions.users.policy import PasswordPolicy
from functions.users.throttle import LoginThrottle, client_network
from shop.db import Database
from shop.events import outbox
from shop.runtime.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    NotFound,
    Unauthenticated,
)

log = logging.getLogger("shop.users")
BAD_LOGIN = "The username or the password is wrong."


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int


class UsersService:
    def __init__(
        self,
        db: Database,
        passwords: Passwords,
        keys: SigningKeys,
        throttle: LoginThrottle,
        policy: PasswordPolicy,
        *,
        issuer: str,
        audience: str,
        token_ttl: int,
    ) -> None:
        self.db = db
        self.passwords = passwords
        self.keys = keys
        self.throttle = throttle
        self.policy = policy
        self.issuer = issuer
        self.audience = audience
        self.token_ttl = token_ttl

    async def sign_up(self, username: str, email: str, password: str, client: str) -> User:
        """A new customer's own registration: the password must pass the policy."""
        weakness = self.policy.weakness(password, username=username, email=email)
        if weakness is not None:
            raise InvalidInput(weakness, [FieldError("password", weakness)])
        return await self.register(username, email, password, client_network(client))

    async def register(
        self, username: str, email: str, password: str, client: str, role: str = "customer"
    ) -> User:
        user = User.new(username, email, await self.passwords.hash(password, client), role)
        async with self.db.transaction() as tx:
            if not await store.insert(tx, user):
                fields = await store.taken(tx, user.username, user.email) or ["username"]
                raise Conflict(
                    f"The {' and the '.join(fields)} {'is' if len(fields) == 1 else 'are'} taken.",
                    extra={"fields": fields},
                )
            await outbox.add(tx, REGISTERED, SOURCE, user.id, user.registered_event())
        return user

    async def login(self, username: str, password: str, client: str) -> IssuedToken:
        client = client_network(client)
        await self.throttle.check(username, client)
        async with self.db.transaction(readonly=True) as tx:
            user = await store.by_username(tx, username)
        if not await self.passwords.verify(user.password_hash if user else None, password, client):
            await self.throttle.failed(username, client)
            raise Unauthenticated(BAD_LOGIN)
        assert user is not None
        await self.throttle.succeeded(username, client)
        if self.passwords.needs_rehash(user.password_hash):
            upgraded = await self.passwords.hash(password, client)
            async with self.db.transaction() as tx:
                await store.set_password_hash(tx, user.id, upgraded)
        token = self.keys.issue(
            subject=user.id,
            role=user.role,
            email=user.email,
            issuer=self.issuer,
            audience=self.audience,
            ttl=self.token_ttl,
        )
        return IssuedToken(token, self.token_ttl)

    async def get(self, user_id: str, *, subject: str, role: str) -> User:
        async with self.db.transaction(readonly=True) as tx:
            user = await store.by_id(tx, user_id)
        if user is None or not user.visible_to(subject, role):
            raise NotFound("No such user.")
        return user

    async def bootstrap_admin(self, username: str, password: str, email: str) -> None:
        """Create the configured admin on first start; an existing account is left alone."""
        async with self.db.transaction(readonly=True) as tx:
            if await store.by_username(tx, username) is not None:
                return
        try:
            await self.register(username, email, password, LOCAL, role=ADMIN)
        except Conflict:
            return  # another instance bootstrapped it at the same moment
        log.info("admin account created", extra={"username": username})
