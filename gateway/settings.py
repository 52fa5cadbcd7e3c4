"""The gateway's settings: the runtime's plus its own, read once from an injectable environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from shop.runtime.settings import Settings, SettingsError, env_bool, env_float, env_int, env_str

BALANCERS = ("round_robin", "least_outstanding", "p2c")
DISPATCHES = ("direct", "router")


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    runtime: Settings
    routes_file: str | None = None
    environ: Mapping[str, str] | None = None
    balancer: str = "least_outstanding"
    dispatch: str = "direct"
    # Resilience.
    max_attempts: int = 3
    retry_budget_ratio: float = 0.2
    retry_budget_min_per_second: float = 5.0
    retry_backoff_seconds: float = 0.01
    breaker_failures: int = 5
    breaker_failure_rate: float = 0.5
    breaker_window_seconds: float = 10.0
    breaker_min_requests: int = 20
    breaker_open_seconds: float = 5.0
    replay_body_bytes: int = 65_536
    upstream_max_idle_per_origin: int = 100
    upstream_max_connections: int = 1000
    # Auth.
    jwt_issuer: str = "shop"
    jwt_audience: str = "shop"
    # Rate limiting.
    rate_limit_enabled: bool = True
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 100
    rate_limit_auth_per_minute: float = 10.0
    rate_limit_auth_burst: int = 5
    # Proxy hygiene.
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        env = os.environ if environ is None else environ
        balancer = env_str(env, "GATEWAY_BALANCER", "least_outstanding")
        if balancer not in BALANCERS:
            raise SettingsError(f"GATEWAY_BALANCER must be one of {', '.join(BALANCERS)}")
        dispatch = env_str(env, "GATEWAY_DISPATCH", "direct")
        if dispatch not in DISPATCHES:
            raise SettingsError(f"GATEWAY_DISPATCH must be one of {', '.join(DISPATCHES)}")
        ratio = env_float(env, "GATEWAY_RETRY_BUDGET_RATIO", 0.2)
        if ratio > 1:
            raise SettingsError("GATEWAY_RETRY_BUDGET_RATIO must be <= 1")
        origins = env_str(env, "CORS_ORIGINS", "")
        return cls(
            runtime=Settings.from_environ("gateway", env),
            routes_file=env.get("GATEWAY_ROUTES_FILE") or None,
            environ=dict(env),
            balancer=balancer,
            dispatch=dispatch,
            max_attempts=env_int(env, "GATEWAY_MAX_ATTEMPTS", 3, low=1),
            retry_budget_ratio=ratio,
            retry_budget_min_per_second=env_float(env, "GATEWAY_RETRY_MIN_PER_SECOND", 5.0),
            retry_backoff_seconds=env_float(env, "GATEWAY_RETRY_BACKOFF_SECONDS", 0.01),
            breaker_failures=env_int(env, "GATEWAY_BREAKER_FAILURES", 5, low=1),
            breaker_failure_rate=env_float(env, "GATEWAY_BREAKER_FAILURE_RATE", 0.5, low=0.01),
            breaker_window_seconds=env_float(env, "GATEWAY_BREAKER_WINDOW_SECONDS", 10.0, low=1),
            breaker_min_requests=env_int(env, "GATEWAY_BREAKER_MIN_REQUESTS", 20, low=1),
            breaker_open_seconds=env_float(env, "GATEWAY_BREAKER_OPEN_SECONDS", 5.0, low=0.01),
            replay_body_bytes=env_int(env, "GATEWAY_REPLAY_BODY_BYTES", 65_536),
            upstream_max_idle_per_origin=env_int(
                env, "GATEWAY_UPSTREAM_MAX_IDLE_PER_ORIGIN", 100, low=0
            ),
            upstream_max_connections=env_int(env, "GATEWAY_UPSTREAM_MAX_CONNECTIONS", 1000, low=1),
            jwt_issuer=env_str(env, "JWT_ISSUER", "shop"),
            jwt_audience=env_str(env, "JWT_AUDIENCE", "shop"),
            rate_limit_enabled=env_bool(env, "RATE_LIMIT_ENABLED", True),
            rate_limit_per_second=env_float(env, "RATE_LIMIT_PER_SECOND", 50.0, low=0.001),
            rate_limit_burst=env_int(env, "RATE_LIMIT_BURST", 100, low=1),
            rate_limit_auth_per_minute=env_float(
                env, "RATE_LIMIT_AUTH_PER_MINUTE", 10.0, low=0.001
            ),
            rate_limit_auth_burst=env_int(env, "RATE_LIMIT_AUTH_BURST", 5, low=1),
            cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip()),
        )
