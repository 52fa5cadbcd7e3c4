"""One frozen settings object per service, read once from an injectable environ mapping."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


def env_str(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name, "").strip()
    return value or default


def env_int(environ: Mapping[str, str], name: str, default: int, *, low: int = 0) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < low:
        raise SettingsError(f"{name} must be >= {low}, got {value}")
    return value


def env_float(environ: Mapping[str, str], name: str, default: float, *, low: float = 0.0) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value < low:
        raise SettingsError(f"{name} must be >= {low}, got {value}")
    return value


def env_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be a boolean, got {raw!r}")


@dataclass(frozen=True, slots=True)
class Settings:
    """What every service and the gateway read from the environment.

    `PORT` is Knative's; `K_SERVICE` and `K_REVISION` are picked up when Knative sets them.
    """

    service: str
    host: str = "0.0.0.0"
    port: int = 8080
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    version: str = "dev"
    k_service: str | None = None
    k_revision: str | None = None
    redis_url: str | None = None
    advertise_url: str | None = None
    advertise_tls_server_name: str | None = None
    registry_ttl: float = 10.0
    registry_refresh: float = 1.0
    shutdown_grace: float = 20.0
    drain_delay: float = 0.0
    drain_watch_url: str | None = None  # queue-proxy (Knative): leave the registry as it drains
    check_timeout: float = 2.0
    log_level: str = "INFO"
    max_body_bytes: int = 1_048_576
    data_dir: str = ".data"

    @classmethod
    def from_environ(cls, service: str, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        ttl = env_float(env, "REGISTRY_TTL_SECONDS", 10.0, low=1.0)
        return cls(
            service=service,
            host=env_str(env, "HOST", "0.0.0.0"),
            port=env_int(env, "PORT", 8080, low=0),
            instance_id=env_str(env, "INSTANCE_ID", "") or _instance_id(env),
            version=env_str(env, "SERVICE_VERSION", env_str(env, "K_REVISION", "dev")),
            k_service=env.get("K_SERVICE") or None,
            k_revision=env.get("K_REVISION") or None,
            redis_url=env.get("REDIS_URL") or None,
            advertise_url=env.get("ADVERTISE_URL") or None,
            advertise_tls_server_name=_tls_server_name(env),
            registry_ttl=ttl,
            registry_refresh=env_float(env, "REGISTRY_REFRESH_SECONDS", 1.0, low=0.05),
            shutdown_grace=env_float(env, "SHUTDOWN_GRACE_SECONDS", 20.0),
            drain_delay=env_float(env, "SHUTDOWN_DRAIN_DELAY_SECONDS", 0.0),
            drain_watch_url=env.get("DRAIN_WATCH_URL") or None,
            check_timeout=env_float(env, "HEALTH_CHECK_TIMEOUT_SECONDS", 2.0, low=0.01),
            log_level=env_str(env, "LOG_LEVEL", "INFO").upper(),
            max_body_bytes=env_int(env, "MAX_BODY_BYTES", 1_048_576, low=1024),
            data_dir=env_str(env, "SHOP_DATA_DIR", ".data"),
        )

    @property
    def heartbeat_interval(self) -> float:
        return self.registry_ttl / 3

    @property
    def address(self) -> str:
        """The URL other instances reach this one at."""
        if self.advertise_url:
            return self.advertise_url.rstrip("/")
        host = self.host if self.host not in {"0.0.0.0", "::", ""} else _own_host()
        return f"http://{host}:{self.port}"


def _tls_server_name(environ: Mapping[str, str]) -> str | None:
    name = environ.get("ADVERTISE_TLS_SERVER_NAME") or None
    if name and not environ.get("ADVERTISE_URL", "").startswith("https://"):
        raise SettingsError("ADVERTISE_TLS_SERVER_NAME needs an https:// ADVERTISE_URL")
    return name


def _instance_id(environ: Mapping[str, str]) -> str:
    # In Kubernetes the pod name is the hostname; keep it readable and unique per process.
    pod = environ.get("HOSTNAME", "")
    suffix = uuid.uuid4().hex[:8]
    return f"{pod}-{suffix}" if pod else uuid.uuid4().hex[:12]


def _own_host() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
