"""The runtime's settings: what every service, the gateway and the local broker read.

Declared once with `shop.runtime.schema`; a service's settings nest this group as `runtime`.
`PORT` is Knative's; `K_SERVICE`, `K_REVISION` and `HOSTNAME` are set by the platform.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Mapping
from typing import Annotated

import msgspec

from shop.runtime.schema import Schema, SettingsError, env, parse

__all__ = ["Settings", "SettingsError"]


class Settings(Schema, frozen=True, kw_only=True):
    service: str
    host: Annotated[str, env("HOST", "The address to listen on.")] = "0.0.0.0"
    port: Annotated[int, env("PORT", "The port to listen on (Knative sets it).", ge=0)] = 8080
    instance_id: Annotated[
        str,
        env("INSTANCE_ID", "This process's id in the registry.", default="$HOSTNAME-<random>"),
    ] = ""
    service_version: Annotated[
        str, env("SERVICE_VERSION", "The version /health reports.", default="$K_REVISION or dev")
    ] = ""
    k_service: Annotated[str | None, env("K_SERVICE", "Set by Knative: the Service's name.")] = None
    k_revision: Annotated[str | None, env("K_REVISION", "Set by Knative: the Revision.")] = None
    hostname: Annotated[str, env("HOSTNAME", "Set by Kubernetes: the pod's name.")] = ""
    redis_url: Annotated[
        str | None, env("REDIS_URL", "The service registry's Redis; unset: no registry.")
    ] = None
    advertise_url: Annotated[
        str | None,
        env("ADVERTISE_URL", "The URL others reach this instance at.", default="http://<ip>:$PORT"),
    ] = None
    advertise_tls_server_name: Annotated[
        str | None,
        env(
            "ADVERTISE_TLS_SERVER_NAME",
            "The TLS server name callers verify at an https:// ADVERTISE_URL.",
        ),
    ] = None
    drain_watch_url: Annotated[
        str | None,
        env(
            "DRAIN_WATCH_URL",
            "Queue-proxy's address (Knative): leave the registry as soon as it starts to drain.",
        ),
    ] = None
    registry_ttl: Annotated[
        float, env("REGISTRY_TTL_SECONDS", "How long a silent instance stays registered.", ge=1)
    ] = 10.0
    registry_refresh: Annotated[
        float,
        env("REGISTRY_REFRESH_SECONDS", "How often the cached registry view refreshes.", ge=0.05),
    ] = 1.0
    shutdown_grace: Annotated[
        float, env("SHUTDOWN_GRACE_SECONDS", "How long in-flight requests get on SIGTERM.", ge=0)
    ] = 20.0
    drain_delay: Annotated[
        float,
        env("SHUTDOWN_DRAIN_DELAY_SECONDS", "Serve on after SIGTERM while routes drain.", ge=0),
    ] = 0.0
    check_timeout: Annotated[
        float,
        env("HEALTH_CHECK_TIMEOUT_SECONDS", "The budget of each readiness check.", ge=0.01),
    ] = 2.0
    log_level: Annotated[str, env("LOG_LEVEL", "The log level (DEBUG, INFO, ...).")] = "INFO"
    max_body_bytes: Annotated[
        int, env("MAX_BODY_BYTES", "The largest request body accepted.", ge=1024)
    ] = 1_048_576
    max_head_bytes: Annotated[
        int, env("MAX_HEAD_BYTES", "The largest request line plus headers (431).", ge=1024)
    ] = 65_536
    max_headers: Annotated[int, env("MAX_HEADERS", "Headers per request at most (431).", ge=8)] = (
        100
    )
    max_url_bytes: Annotated[
        int, env("MAX_URL_BYTES", "The longest request target (414).", ge=256)
    ] = 8_192
    header_timeout: Annotated[
        float, env("HEADER_TIMEOUT_SECONDS", "Time to send a request's head (408).", ge=0.1)
    ] = 10.0
    body_timeout: Annotated[
        float, env("BODY_TIMEOUT_SECONDS", "The longest pause inside a request body.", ge=0.1)
    ] = 30.0
    max_connections: Annotated[
        int, env("MAX_CONNECTIONS", "Open connections at most; beyond, requests get 503.", ge=1)
    ] = 1000
    keep_alive_timeout: Annotated[
        float, env("KEEP_ALIVE_TIMEOUT_SECONDS", "How long an idle connection stays open.", ge=0)
    ] = 75.0
    trusted_proxies: Annotated[
        tuple[str, ...],
        env(
            "TRUSTED_PROXIES",
            "Comma-separated addresses/CIDRs whose X-Forwarded-For and -Proto are believed "
            "(Knative's queue-proxy, ingress and activator); empty: the peer is the client.",
        ),
    ] = ()
    data_dir: Annotated[
        str, env("SHOP_DATA_DIR", "Local state: SQLite files, local keys and tokens.")
    ] = ".data"

    def __post_init__(self) -> None:
        if not self.instance_id:
            # In Kubernetes the pod name is the hostname; keep it readable and unique per process.
            suffix = uuid.uuid4().hex[:8] if self.hostname else uuid.uuid4().hex[:12]
            own = f"{self.hostname}-{suffix}" if self.hostname else suffix
            msgspec.structs.force_setattr(self, "instance_id", own)
        msgspec.structs.force_setattr(self, "log_level", self.log_level.upper())
        if self.advertise_tls_server_name and not (self.advertise_url or "").startswith("https://"):
            raise SettingsError("ADVERTISE_TLS_SERVER_NAME needs an https:// ADVERTISE_URL")

    @classmethod
    def from_environ(cls, service: str, environ: Mapping[str, str] | None = None) -> Settings:
        return parse(cls, environ, service=service)

    @property
    def version(self) -> str:
        return self.service_version or self.k_revision or "dev"

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


def _own_host() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
