"""The routing table: public path prefixes to services, loaded from configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shop.runtime.schema import SettingsError

if TYPE_CHECKING:
    from gateway.settings import GatewaySettings

DEFAULT_FILE = Path(__file__).with_name("routes.yaml")
POLICIES = frozenset({"public", "user", "admin"})
RATE_LIMITS = frozenset({"default", "auth", "none"})


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    fallback_url: str | None
    timeout: float
    cold_start_timeout: float


@dataclass(frozen=True, slots=True)
class Route:
    prefix: str
    service: Service
    auth: Mapping[str, str]
    timeout: float
    rate_limit: str = "default"
    upstream_path: str | None = None  # replaces the path (the `/<service>/health` routes)

    def policy(self, method: str) -> str:
        return self.auth.get(method) or self.auth["default"]

    @property
    def template(self) -> str:
        return self.prefix if self.upstream_path else f"{self.prefix}/*"


@dataclass(frozen=True, slots=True)
class RouteTable:
    routes: tuple[Route, ...]
    services: Mapping[str, Service]
    _by_segment: dict[str, tuple[Route, ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for route in sorted(self.routes, key=lambda r: -len(r.prefix)):
            first = _first_segment(route.prefix)
            self._by_segment[first] = (*self._by_segment.get(first, ()), route)

    @property
    def prefixes(self) -> list[str]:
        """Every first path segment the gateway proxies, as `/segment`."""
        return sorted(f"/{segment}" for segment in self._by_segment)

    def match(self, path: str) -> Route | None:
        for route in self._by_segment.get(_first_segment(path), ()):
            prefix = route.prefix
            if path == prefix or (route.upstream_path is None and path.startswith(prefix + "/")):
                return route
        return None


def load(settings: GatewaySettings) -> RouteTable:
    """The table in `GATEWAY_ROUTES_FILE` (default: routes.yaml), with the settings' overrides."""
    source = Path(settings.routes_file) if settings.routes_file else DEFAULT_FILE
    try:
        raw = _parse(source)
    except OSError as exc:
        raise SettingsError(f"cannot read the routing table {source}: {exc}") from None
    return build(raw, settings)


def build(raw: Mapping[str, Any], settings: GatewaySettings) -> RouteTable:
    """`<SERVICE>_URL` and the `<SERVICE>_*TIMEOUT_SECONDS` settings win over the file."""
    defaults = raw.get("defaults") or {}
    timeout = float(defaults.get("timeout_seconds", 10))
    cold = float(defaults.get("cold_start_timeout_seconds", 30))
    services: dict[str, Service] = {}
    for name, spec in (raw.get("services") or {}).items():
        spec = spec or {}
        services[name] = Service(
            name=name,
            fallback_url=settings.clients.fallbacks.get(name) or spec.get("fallback_url") or None,
            timeout=settings.service_timeouts.get(
                name, float(spec.get("timeout_seconds", timeout))
            ),
            cold_start_timeout=settings.cold_start_timeouts.get(
                name, float(spec.get("cold_start_timeout_seconds", cold))
            ),
        )
    routes = [_route(spec, services) for spec in raw.get("routes") or []]
    for service in services.values():
        routes.append(
            Route(
                prefix=f"/{service.name}/health",
                service=service,
                auth={"default": "public"},
                timeout=service.timeout,
                upstream_path="/health",
            )
        )
    return RouteTable(tuple(routes), services)


def _route(spec: Mapping[str, Any], services: Mapping[str, Service]) -> Route:
    prefix = str(spec.get("prefix", ""))
    if not prefix.startswith("/") or prefix.endswith("/") or "//" in prefix:
        raise SettingsError(f"route prefix {prefix!r} must look like /segment[/segment]")
    service = services.get(str(spec.get("service")))
    if service is None:
        raise SettingsError(f"route {prefix}: unknown service {spec.get('service')!r}")
    auth = spec.get("auth", "user")  # secure by default: a route must say it is public
    policies = {"default": auth} if isinstance(auth, str) else {str(k): v for k, v in auth.items()}
    policies.setdefault("default", "user")
    if not set(policies.values()) <= POLICIES:
        raise SettingsError(f"route {prefix}: auth must be one of {', '.join(sorted(POLICIES))}")
    rate_limit = str(spec.get("rate_limit", "default"))
    if rate_limit not in RATE_LIMITS:
        raise SettingsError(f"route {prefix}: rate_limit must be one of {sorted(RATE_LIMITS)}")
    return Route(
        prefix=prefix,
        service=service,
        auth={k.upper() if k != "default" else k: v for k, v in policies.items()},
        timeout=float(spec.get("timeout_seconds", service.timeout)),
        rate_limit=rate_limit,
    )


def _parse(source: Path) -> Mapping[str, Any]:
    text = source.read_text()
    if source.suffix == ".json":
        import json

        data = json.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise SettingsError(f"the routing table {source} must be a mapping")
    return data


def _first_segment(path: str) -> str:
    end = path.find("/", 1)
    return path[1:] if end < 0 else path[1:end]
