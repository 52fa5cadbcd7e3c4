"""The gateway's settings: the runtime's plus its own, declared once and read once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from shop.auth.tokens import TokenSettings
from shop.http.clients import ClientSettings
from shop.runtime.schema import Schema, env, parse
from shop.runtime.settings import Settings


class GatewaySettings(Schema, frozen=True, kw_only=True):
    runtime: Settings
    clients: ClientSettings  # the <SERVICE>_URL fallbacks and the key fetcher's
    tokens: TokenSettings
    routes_file: Annotated[
        str | None,
        env(
            "GATEWAY_ROUTES_FILE",
            "The routing table (YAML or JSON).",
            default="gateway/routes.yaml",
        ),
    ] = None
    service_timeouts: Annotated[
        dict[str, float],
        env("{SERVICE}_TIMEOUT_SECONDS", "Overrides the routing table's timeout.", ge=0),
    ] = {}
    cold_start_timeouts: Annotated[
        dict[str, float],
        env("{SERVICE}_COLD_START_TIMEOUT_SECONDS", "Overrides its cold-start timeout.", ge=0),
    ] = {}
    balancer: Annotated[
        Literal["round_robin", "least_outstanding", "p2c"],
        env("GATEWAY_BALANCER", "How an instance is chosen."),
    ] = "least_outstanding"
    dispatch: Annotated[
        Literal["direct", "router"],
        env("GATEWAY_DISPATCH", "direct, or through Litestar's router (to measure it)."),
    ] = "direct"
    # Resilience.
    max_attempts: Annotated[
        int, env("GATEWAY_MAX_ATTEMPTS", "Attempts per request, retries included.", ge=1)
    ] = 3
    retry_budget_ratio: Annotated[
        float, env("GATEWAY_RETRY_BUDGET_RATIO", "Retries as a share of requests.", ge=0, le=1)
    ] = 0.2
    retry_budget_min_per_second: Annotated[
        float, env("GATEWAY_RETRY_MIN_PER_SECOND", "Retries always allowed per second.", ge=0)
    ] = 5.0
    retry_backoff_seconds: Annotated[
        float, env("GATEWAY_RETRY_BACKOFF_SECONDS", "The wait before a retry.", ge=0)
    ] = 0.01
    breaker_failures: Annotated[
        int, env("GATEWAY_BREAKER_FAILURES", "Consecutive failures that open a breaker.", ge=1)
    ] = 5
    breaker_failure_rate: Annotated[
        float,
        env("GATEWAY_BREAKER_FAILURE_RATE", "The failure rate that opens a breaker.", ge=0.01),
    ] = 0.5
    breaker_window_seconds: Annotated[
        float, env("GATEWAY_BREAKER_WINDOW_SECONDS", "The failure rate's window.", ge=1)
    ] = 10.0
    breaker_min_requests: Annotated[
        int,
        env("GATEWAY_BREAKER_MIN_REQUESTS", "Requests in the window before the rate counts.", ge=1),
    ] = 20
    breaker_open_seconds: Annotated[
        float, env("GATEWAY_BREAKER_OPEN_SECONDS", "How long a breaker stays open.", ge=0.01)
    ] = 5.0
    suspect_after_seconds: Annotated[
        float,
        env(
            "GATEWAY_SUSPECT_AFTER_SECONDS",
            "No answer for this long: probe the instance's /health (hung: ejected).",
            ge=0.01,
        ),
    ] = 3.0
    probe_timeout_seconds: Annotated[
        float, env("GATEWAY_PROBE_TIMEOUT_SECONDS", "That probe's timeout.", ge=0.01)
    ] = 2.0
    replay_body_bytes: Annotated[
        int, env("GATEWAY_REPLAY_BODY_BYTES", "The largest body kept to replay on a retry.", ge=0)
    ] = 65_536
    upstream_max_idle_per_origin: Annotated[
        int,
        env(
            "GATEWAY_UPSTREAM_MAX_IDLE_PER_ORIGIN",
            "Idle upstream connections kept per instance.",
            ge=0,
        ),
    ] = 100
    upstream_max_connections: Annotated[
        int,
        env("GATEWAY_UPSTREAM_MAX_CONNECTIONS", "Upstream connections open at most, in all.", ge=1),
    ] = 1000
    # Rate limiting.
    rate_limit_enabled: Annotated[
        bool, env("RATE_LIMIT_ENABLED", "Rate-limit clients (needs REDIS_URL).")
    ] = True
    rate_limit_per_second: Annotated[
        float, env("RATE_LIMIT_PER_SECOND", "Requests per second per client.", ge=0.001)
    ] = 50.0
    rate_limit_burst: Annotated[
        int, env("RATE_LIMIT_BURST", "The burst a client may send at once.", ge=1)
    ] = 100
    rate_limit_auth_per_minute: Annotated[
        float,
        env(
            "RATE_LIMIT_AUTH_PER_MINUTE", "Login/register attempts per minute per client.", ge=0.001
        ),
    ] = 10.0
    rate_limit_auth_burst: Annotated[int, env("RATE_LIMIT_AUTH_BURST", "Their burst.", ge=1)] = 5
    rate_limit_sync_seconds: Annotated[
        float,
        env(
            "RATE_LIMIT_SYNC_SECONDS",
            "How often a replica pushes what it admitted per client to Redis and follows the "
            "shared buckets.",
            ge=0.01,
            le=10,
        ),
    ] = 0.2
    rate_limit_local_share: Annotated[
        float,
        env(
            "RATE_LIMIT_LOCAL_SHARE",
            "Share of a client's burst one replica may admit between syncs without asking "
            "Redis (the overshoot bound per extra replica); 0: Redis checks every request.",
            ge=0,
            le=1,
        ),
    ] = 0.1
    # Proxy hygiene.
    cors_origins: Annotated[
        tuple[str, ...], env("CORS_ORIGINS", "Comma-separated origins allowed by CORS.")
    ] = ()
    hsts_max_age_seconds: Annotated[
        int,
        env(
            "GATEWAY_HSTS_MAX_AGE_SECONDS",
            "Strict-Transport-Security max-age on answers over HTTPS; 0 turns it off.",
            ge=0,
        ),
    ] = 31_536_000

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        return parse(cls, environ, service="gateway")
