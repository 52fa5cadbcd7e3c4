"""The users function's composition root: the only place its adapters are built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar.di import Provide

from functions.users.api import ROUTES
from functions.users.blocklist import CommonPasswords
from functions.users.controls import ControlHealth, errors_counter
from functions.users.counters import FallbackCounters
from functions.users.keys import SigningKeys, local_key, split_pems
from functions.users.migrations import MIGRATIONS
from functions.users.passwords import Passwords
from functions.users.policy import PasswordPolicy
from functions.users.service import UsersService
from functions.users.settings import UsersSettings
from functions.users.throttle import Limits, LoginThrottle
from shop.auth.bearer import openapi_config, provide_claims
from shop.auth.tokens import TokenVerifier
from shop.db.attach import attach_database
from shop.events.outbox_relay import OutboxRelay
from shop.runtime.core import Runtime
from shop.runtime.service import create_service_app
from shop.runtime.wiring import Wired


@dataclass(frozen=True, slots=True)
class Adapters:
    users: UsersService
    verifier: TokenVerifier


async def bootstrap(
    settings: UsersSettings,
    runtime: Runtime,
    relay: OutboxRelay,
    *,
    passwords: Passwords | None = None,
) -> Adapters:
    pem = settings.private_key_pem or local_key(settings.runtime.data_dir)
    keys = SigningKeys(split_pems(pem))
    db = await relay.attach(runtime, await attach_database(runtime, settings.database, MIGRATIONS))
    limits = Limits(
        per_pair=settings.login_failures_per_pair,
        per_client=settings.login_failures_per_client,
        per_account=settings.login_failures_per_user,
        window=settings.login_window,
    )
    health = ControlHealth(
        settings.runtime.service,
        "login_throttle",
        errors_counter(runtime.metrics.registry),
        degraded="failed logins are counted in this instance's memory until Redis answers",
    )
    throttle = LoginThrottle(FallbackCounters(runtime.redis, health), limits)
    users = UsersService(
        db,
        passwords or Passwords(per_client=settings.password_hashes_per_client),
        keys,
        throttle,
        PasswordPolicy(CommonPasswords()),
        issuer=settings.tokens.issuer,
        audience=settings.tokens.audience,
        token_ttl=settings.token_ttl,
    )

    async def own_keys() -> dict[str, Any]:
        return keys.jwks()

    verifier = TokenVerifier(
        own_keys, issuer=settings.tokens.issuer, audience=settings.tokens.audience
    )
    if settings.admin_username and settings.admin_password:
        email = settings.admin_email or f"{settings.admin_username}@localhost.localdomain"
        await users.bootstrap_admin(settings.admin_username, settings.admin_password, email)
    return Adapters(users=users, verifier=verifier)


def create_app(
    settings: UsersSettings | None = None, *, passwords: Passwords | None = None
) -> Litestar:
    config = settings or UsersSettings.from_environ()
    wired: Wired[Adapters] = Wired()
    relay = OutboxRelay(config.relay)

    async def start(runtime: Runtime) -> None:
        wired.set(await bootstrap(config, runtime, relay, passwords=passwords))

    return create_service_app(
        config.runtime,
        route_handlers=[*ROUTES, *relay.routes],
        startup=[start],
        openapi_config=openapi_config(config.runtime.service, config.runtime.version),
        dependencies={
            **wired.provide("users", "verifier"),
            "claims": Provide(provide_claims),
            **relay.dependencies,
        },
    )
