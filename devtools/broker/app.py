"""The local broker's composition root: `shop serve broker`.

A development stand-in for Knative's Broker, for `shop up` and the tests. It reads the Broker,
Trigger and PingSource manifests in `knative/eventing/` (the files that deploy to the cluster),
accepts CloudEvents at `/<namespace>/<broker>` like the broker ingress, and delivers them to the
subscribers those Triggers name, found in the service registry (or `<NAME>_URL`). Nothing in the
functions depends on it: in a cluster, Knative's own Broker does this job.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from litestar import Litestar, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from prometheus_client import Counter

from devtools.broker.dispatch import Dispatcher
from devtools.broker.identity import Identity
from devtools.broker.journal import Journal
from devtools.broker.manifests import Destination, Manifests, load
from devtools.broker.parking import LEGACY_FILE, Parking
from devtools.broker.pings import PingScheduler
from shop.events.ce import CloudEvent, InvalidEvent, from_http
from shop.http.clients import ClientSettings
from shop.runtime import telemetry
from shop.runtime.problems import problem
from shop.runtime.schema import Schema, env, parse
from shop.runtime.service import create_service_app
from shop.runtime.settings import Settings
from shop.runtime.wiring import Wired

if TYPE_CHECKING:
    from shop.registry.view import RegistryView
    from shop.runtime.core import Runtime

DEFAULT_MANIFESTS = Path(__file__).resolve().parents[2] / "knative" / "eventing"
MAX_TTL = 255
JOURNAL_FILE = "broker-journal.sqlite3"
# In a cluster the dead-letter sink is its own Service (the notifications image, store-only);
# under `shop up` the notifications function keeps the dead letters unless DEAD_LETTERS_URL is set.
STAND_INS = {"dead-letters": "notifications"}


class BrokerSettings(Schema, frozen=True, kw_only=True):
    runtime: Settings
    clients: ClientSettings  # the subscribers' <SERVICE>_URL, when the registry knows none
    manifests: Annotated[
        str,
        env(
            "BROKER_MANIFESTS",
            "The Broker/Trigger/PingSource manifests.",
            default="knative/eventing",
        ),
    ] = ""
    namespace: Annotated[str, env("BROKER_NAMESPACE", "The namespace the broker serves.")] = (
        "default"
    )
    max_inflight: Annotated[
        int, env("BROKER_MAX_INFLIGHT", "Deliveries in flight at once.", ge=1)
    ] = 512
    park_retry: Annotated[
        float,
        env("BROKER_PARK_RETRY_SECONDS", "How often parked deliveries are retried.", ge=0.05),
    ] = 10.0
    time_scale: Annotated[
        float,
        env(
            "BROKER_TIME_SCALE",
            "Every retry wait (backoff, Retry-After) times this: < 1 compresses the clock (tests).",
            ge=0,
        ),
    ] = 1.0
    dead_letters_url: Annotated[
        str | None,
        env("DEAD_LETTERS_URL", "The dead-letter store; unset: the notifications function's."),
    ] = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> BrokerSettings:
        return parse(cls, environ, service="broker")

    @property
    def manifests_path(self) -> Path:
        return Path(self.manifests) if self.manifests else DEFAULT_MANIFESTS

    @property
    def fallback_urls(self) -> Mapping[str, str]:
        found = dict(self.clients.fallbacks)
        if self.dead_letters_url:
            found["dead-letters"] = self.dead_letters_url.rstrip("/")
        return found


class Broker:
    """Ingress plus routing: what the handlers and the ping scheduler share."""

    def __init__(
        self,
        settings: BrokerSettings,
        manifests: Manifests,
        runtime: Runtime,
        view: RegistryView | None,
    ) -> None:
        self.settings = settings
        self.manifests = manifests
        self.runtime = runtime
        self.view = view
        self.dispatcher: Dispatcher | None = None
        self.identity: Identity | None = None
        self.received = Counter(
            "broker_events",
            "Events offered to the broker ingress by result",
            ["broker", "result"],
            registry=runtime.metrics.registry,
        )

    def resolve(self, destination: Destination) -> str | None:
        base: str | None = None
        stand_in = None
        if destination.kind == "Broker" and destination.name:
            base = f"{self.runtime.settings.address}/{self.settings.namespace}/{destination.name}"
        elif destination.name:
            base = self._address(destination.name)
            if base is None and destination.name in STAND_INS:
                stand_in = STAND_INS[destination.name]
                base = self._address(stand_in)
            if base is None:
                return None
        uri = destination.uri or ""
        if base is None:
            return uri or None
        url = base.rstrip("/") + uri if uri.startswith("/") or not uri else uri
        if stand_in is not None and self.identity is not None:
            self.identity.presenter.stand_in(url, stand_in)
        return url

    def _address(self, service: str) -> str | None:
        healthy = self.view.healthy(service) if self.view is not None else ()
        if healthy:
            return str(random.choice(healthy).address)  # noqa: S311 - load spreading, not crypto
        return self.settings.fallback_urls.get(service)

    async def ingest(self, broker: str, event: CloudEvent, trace: Mapping[str, str]) -> bool:
        """Accept one event into `broker`; False when its hop budget is spent."""
        ttl = _ttl(event)
        if ttl <= 0:
            self.received.labels(broker, "ttl_expired").inc()
            return False
        event = event.with_extensions(knativebrokerttl=str(ttl - 1))
        event = event.with_extensions(knativearrivaltime=_now())
        assert self.dispatcher is not None
        matched = await self.dispatcher.accept(broker, event, trace)
        self.received.labels(broker, "accepted" if matched else "unmatched").inc()
        return True


def _ttl(event: CloudEvent) -> int:
    raw = event.extensions.get("knativebrokerttl")
    if raw is None:
        return MAX_TTL + 1
    return int(raw) if raw.isdigit() else 0


def _now() -> str:
    from shop.events.ce import now

    return now()


def _trace_of(request: Request[Any, Any, Any]) -> dict[str, str]:
    if telemetry.enabled():
        carrier: dict[str, str] = {}
        telemetry.inject(carrier)  # the ingress span, so the hop shows in the trace
        return carrier
    return {k: request.headers[k] for k in ("traceparent", "tracestate") if k in request.headers}


async def _offer(
    request: Request[Any, Any, Any], broker: Broker, namespace: str, name: str
) -> Response[Any]:
    if namespace != broker.settings.namespace or name not in broker.manifests.brokers:
        return problem(404, f"no broker {namespace}/{name}", kind="unknown-broker")
    if broker.identity and (refused := await broker.identity.gate.refusal(request.headers, name)):
        return problem(refused[0], refused[1], kind="unauthenticated-sender")
    try:
        event = from_http(dict(request.headers), await request.body())
    except InvalidEvent as exc:
        broker.received.labels(name, "invalid").inc()
        return problem(exc.status, str(exc), title="Invalid CloudEvent", kind="invalid-event")
    await broker.ingest(name, event, _trace_of(request))
    return Response(b"", status_code=202, media_type="text/plain")  # no body: not JSON


@post("/{namespace:str}/{name:str}", status_code=202, include_in_schema=False)
async def ingress(
    request: Request[Any, Any, Any],
    broker: NamedDependency[Broker],
    namespace: FromPath[str],
    name: FromPath[str],
) -> Response[Any]:
    return await _offer(request, broker, namespace, name)


@post("/", status_code=202, include_in_schema=False)
async def default_ingress(
    request: Request[Any, Any, Any], broker: NamedDependency[Broker]
) -> Response[Any]:
    return await _offer(request, broker, broker.settings.namespace, "default")


@dataclass(frozen=True, slots=True)
class Adapters:
    broker: Broker


async def bootstrap(settings: BrokerSettings, runtime: Runtime, manifests: Manifests) -> Adapters:
    import asyncio

    from shop.events.poster import Poster

    broker = Broker(settings, manifests, runtime, await runtime.registry_view())
    broker.identity = identity = Identity(
        settings.runtime.data_dir, manifests, settings.manifests_path
    )
    data = Path(settings.runtime.data_dir)
    journal = Journal(data / JOURNAL_FILE)

    async def close_journal() -> None:
        journal.close()

    runtime.on_close(close_journal)
    # Each delivery and ping carries its sender's token for the receiver's audience.
    client = Poster(
        token=identity.presenter.token_for, timeout=30.0, max_connections=settings.max_inflight
    )
    resolve = identity.presenter.tracking(broker.resolve)
    parking = Parking(journal, every=settings.park_retry)
    parking.adopt(data / LEGACY_FILE)
    scale = settings.time_scale

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds * scale)

    dispatcher = Dispatcher(
        manifests,
        resolve,
        client,
        runtime.metrics.registry,
        journal=journal,
        parking=parking,
        max_inflight=settings.max_inflight,
        sleep=sleep,
    )
    broker.dispatcher = dispatcher
    dispatcher.ingest = broker.ingest
    dispatcher.resume()
    parking.start(dispatcher.offer)
    pings = PingScheduler(manifests.pings, resolve, client, settings.namespace)
    pings.start()
    identity.start()
    runtime.on_close(client.aclose)
    runtime.on_close(parking.stop)
    runtime.on_close(dispatcher.close)  # closers run last-registered first
    runtime.on_close(pings.stop)
    runtime.on_close(identity.stop)
    return Adapters(broker)


def create_app(settings: BrokerSettings | None = None) -> Litestar:
    config = settings or BrokerSettings.from_environ()
    manifests = load(config.manifests_path)
    wired: Wired[Adapters] = Wired()

    async def start(runtime: Runtime) -> None:
        wired.set(await bootstrap(config, runtime, manifests))

    return create_service_app(
        config.runtime,
        route_handlers=[ingress, default_ingress],
        startup=[start],
        dependencies=wired.provide("broker"),
    )
