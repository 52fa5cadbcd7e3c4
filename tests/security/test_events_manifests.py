"""The cluster side of event authentication, read from the manifests (no cluster needed): every
sender names its receiver's audience, every receiver trusts exactly its senders, the Broker has
an EventPolicy, the feature is switched on, and no function admits a whole system namespace."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.broker.identity import allowed_at_broker, documents, senders_to
from devtools.broker.manifests import load
from devtools.broker.oidc_issuer import audience
from tests.support.knative.manifests import KNATIVE, Manifest, all_files
from tests.support.processes import ROOT

EVENTING = KNATIVE / "eventing"
RECEIVERS = ("users", "orders", "notifications", "dead-letters")


def _service(name: str) -> Manifest:
    found = [*all_files(KNATIVE / "services"), *all_files(EVENTING)]  # dead-letters is there
    return next(m for m in found if m.kind == "Service" and m.name == name)


def _env(name: str) -> dict[str, Any]:
    (container,) = _service(name).body["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def test_every_sender_names_the_audience_of_the_service_it_delivers_to() -> None:
    manifests = load(EVENTING)
    destinations = [t.subscriber for t in manifests.triggers] + [p.sink for p in manifests.pings]
    destinations += [d.dead_letter for d in manifests.brokers.values() if d and d.dead_letter]
    assert destinations
    for destination in destinations:
        assert destination.kind == "Service"
        assert destination.audience == audience("Service", destination.name or "")


@pytest.mark.parametrize("name", RECEIVERS)
def test_each_receiver_trusts_exactly_the_senders_the_manifests_give_it(name: str) -> None:
    env = _env(name)
    assert env["EVENTS_OIDC_AUDIENCE"] == audience("Service", name)
    assert sorted(env["EVENTS_OIDC_SUBJECTS"].split(",")) == senders_to(load(EVENTING), name)


@pytest.mark.parametrize("name", RECEIVERS)
def test_receivers_mount_no_default_token_only_a_projected_one_for_the_jwks(name: str) -> None:
    pod = _service(name).body["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    (kube_api,) = [v for v in pod["volumes"] if v["name"] == "kube-api"]
    (token,) = [s for s in kube_api["projected"]["sources"] if "serviceAccountToken" in s]
    assert token["serviceAccountToken"]["expirationSeconds"] <= 3600


def test_the_broker_admits_only_the_producers_and_the_replay_account() -> None:
    allowed = allowed_at_broker(documents(EVENTING), "default")
    assert sorted(allowed) == [
        "system:serviceaccount:shop:orders-to-broker-oidc-sources.knative.dev-sinkbinding",
        "system:serviceaccount:shop:shop-dlq-replay",
        "system:serviceaccount:shop:users-to-broker-oidc-sources.knative.dev-sinkbinding",
    ]


def test_task_deploy_switches_eventings_oidc_authentication_on() -> None:
    taskfile = (ROOT / "Taskfile.yml").read_text()
    assert "-n knative-eventing" in taskfile
    assert '"authentication-oidc":"enabled"' in taskfile


def test_no_function_admits_a_whole_namespace() -> None:
    policies = [m for m in all_files(KNATIVE) if m.kind == "NetworkPolicy"]
    functions = [
        p
        for p in policies
        if any(
            "users" in e.get("values", [])
            for e in p.body["spec"]["podSelector"].get("matchExpressions", [])
        )
    ]
    assert functions
    for policy in functions:
        for rule in policy.body["spec"]["ingress"]:
            for peer in rule["from"]:
                assert "podSelector" in peer, f"{policy}: {peer} admits a whole namespace"
