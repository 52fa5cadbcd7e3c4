"""The production Broker keeps accepted events, rides out a real outage, honours Retry-After where
Eventing's dispatcher can, and sends dead letters to a store that does not depend on the consumer
that failed; the in-memory Broker exists only in the development overlay. Checked against the
pinned upstream ConfigMaps (Eventing's config-features, the Kafka Broker's kafka-broker-config)."""

from __future__ import annotations

from typing import Any

import yaml

from devtools.broker.manifests import Delivery, duration
from tests.support.knative.manifests import DEPLOY, Manifest, render
from tests.support.processes import ROOT

SCHEMAS = ROOT / "tests" / "support" / "knative" / "schemas"
OUTAGE = 30 * 60  # seconds of consumer outage the policy must ride out before dead-lettering


def _broker(found: list[Manifest]) -> Manifest:
    (broker,) = [m for m in found if m.kind == "Broker"]
    return broker


def _delivery(rendered: list[Manifest]) -> dict[str, Any]:
    spec: dict[str, Any] = _broker(rendered).body["spec"]["delivery"]
    return spec


def test_the_production_broker_is_the_kafka_broker_with_a_replicated_topic(
    rendered: list[Manifest],
) -> None:
    broker = _broker(rendered).body
    assert broker["metadata"]["annotations"]["eventing.knative.dev/broker.class"] == "Kafka"
    config = broker["spec"]["config"]
    assert (config["apiVersion"], config["kind"]) == ("v1", "ConfigMap")
    (configmap,) = [m for m in rendered if m.kind == "ConfigMap" and m.name == config["name"]]
    upstream = yaml.safe_load(
        (SCHEMAS / "eventing-kafka-broker/kafka-broker-config.yaml").read_text()
    )
    assert set(configmap.body["data"]) == set(upstream["data"])  # the real keys, all set
    assert int(configmap.body["data"]["default.topic.replication.factor"]) >= 3


def test_the_in_memory_broker_is_only_in_the_development_overlay(rendered: list[Manifest]) -> None:
    dev = _broker(render(DEPLOY / "overlays" / "dev-inmemory-broker")).body
    assert dev["metadata"]["annotations"]["eventing.knative.dev/broker.class"] == (
        "MTChannelBasedBroker"
    )
    assert "config" not in dev["spec"]  # the cluster's default channel: InMemoryChannel
    assert dev["spec"]["delivery"] == _delivery(rendered)


def test_the_retries_ride_out_a_half_hour_outage_with_eventings_and_kafkas_backoff(
    rendered: list[Manifest],
) -> None:
    spec = _delivery(rendered)
    delivery = Delivery.parse(spec, "broker")
    assert delivery is not None
    eventing = sum(delivery.wait_before(n) for n in range(delivery.retry))  # retries.go: 2^n
    kafka = sum(delivery.wait_before(k) for k in range(1, delivery.retry + 1))  # data plane: 2^k
    assert eventing >= OUTAGE
    assert kafka >= OUTAGE
    assert duration(spec["timeout"]) <= 30


def test_retry_after_is_honoured_capped_and_the_feature_enabled_by_deploy(
    rendered: list[Manifest],
) -> None:
    assert 0 < duration(_delivery(rendered)["retryAfterMax"]) <= 600
    features = yaml.safe_load((SCHEMAS / "eventing/config/config-features.yaml").read_text())
    assert features["metadata"]["namespace"] == "knative-eventing"
    assert features["data"]["delivery-retryafter"] == "disabled"  # off unless we turn it on
    commands = yaml.safe_load((ROOT / "Taskfile.yml").read_text())["tasks"]["deploy"]["cmds"]
    patch = next(c for c in commands if isinstance(c, str) and "-n knative-eventing" in c)
    assert "configmap/config-features" in patch
    assert '"delivery-retryafter":"enabled"' in patch


def test_dead_letters_go_to_a_store_no_trigger_delivers_to(rendered: list[Manifest]) -> None:
    sink = _delivery(rendered)["deadLetterSink"]["ref"]
    subscribers = {
        m.body["spec"]["subscriber"]["ref"]["name"] for m in rendered if m.kind == "Trigger"
    }
    assert sink["kind"] == "Service"
    assert sink["name"] not in subscribers
    assert all("delivery" not in m.body["spec"] for m in rendered if m.kind == "Trigger")
    (store,) = [m for m in rendered if m.kind == "Service" and m.name == sink["name"]]
    env = {
        e["name"]: e.get("value")
        for e in store.body["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["DB_NAME"] == "deadletters"  # its own database, not the consumer's
    assert "REDIS_URL" not in env  # in no registry: no user traffic reaches it
