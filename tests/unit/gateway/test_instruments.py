"""The gateway's per-instance breaker series, as its composition root wires them to the balancer."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import adapters_of, create_app
from gateway.proxy import Proxy
from gateway.settings import GatewaySettings
from shop.registry.store import Instance
from shop.runtime.service import runtime_of


class Directory:
    """The registry view's port (`gateway.balancer.Directory`), set by hand."""

    def __init__(self) -> None:
        self.version = 0
        self.stale = False
        self.instances: dict[str, tuple[Instance, ...]] = {}

    def set(self, service: str, *ids: str) -> None:
        self.instances[service] = tuple(
            Instance(instance_id=i, service=service, address=f"http://{i}:8012") for i in ids
        )
        self.version += 1

    def healthy(self, service: str) -> tuple[Instance, ...]:
        return self.instances.get(service, ())

    def all(self) -> Mapping[str, tuple[Instance, ...]]:
        return MappingProxyType(self.instances)


def breaker_series(text: str) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    return {
        (sample.name, frozenset(sample.labels.items()))
        for family in text_string_to_metric_families(text)
        if family.name.startswith("gateway_breaker")
        for sample in family.samples
    }


def test_breaker_series_of_an_instance_that_left_the_registry_are_removed() -> None:
    app = create_app(GatewaySettings.from_environ({"LOG_LEVEL": "WARNING"}))
    with TestClient(app) as client:
        proxy: Proxy = adapters_of(app).proxy
        directory = Directory()
        proxy.balancer.view = directory
        directory.set("products", "products-a", "products-b")
        for upstream in proxy.balancer.pool("products"):
            for _ in range(10):
                upstream.breaker.record(ok=False)  # opens: a state and a transition series each
        before = breaker_series(client.get("/metrics").text)

        directory.set("products", "products-b")
        proxy.balancer.pool("products")
        after = breaker_series(client.get("/metrics").text)

    def of(series: set[tuple[str, frozenset[tuple[str, str]]]], instance: str) -> set[str]:
        return {name for name, labels in series if ("upstream_instance", instance) in labels}

    assert of(before, "products-a") == {
        "gateway_breaker_state",
        "gateway_breaker_transitions_total",
    }
    assert of(after, "products-a") == set()
    assert of(after, "products-b") == of(before, "products-b") != set()


def test_breaker_series_never_use_the_instance_label_prometheus_owns() -> None:
    app = create_app(GatewaySettings.from_environ({"LOG_LEVEL": "WARNING"}))
    with TestClient(app):
        proxy: Proxy = adapters_of(app).proxy
        directory = Directory()
        proxy.balancer.view = directory
        directory.set("orders", "orders-a")
        proxy.balancer.pool("orders")
        text = runtime_of(app).metrics.exposition().decode()

    labels = {key for _, found in breaker_series(text) for key, _ in found}
    assert labels == {"upstream", "upstream_instance"}
    assert "instance" not in {
        key
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        for key in sample.labels
    }
