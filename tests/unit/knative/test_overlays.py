"""The overlays of deploy/ (HTTPS on the public host, the Istio mesh) render with kubectl's
kustomize, validate like the default install (pinned cert-manager and Istio CRDs, closed), and
keep their promises: redirect and a certificate issuer for the DomainMapping, mutual TLS and
per-caller authorization that agree with the NetworkPolicies, nothing of either by default."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.knative.manifests import (
    DEPLOY,
    Manifest,
    load_file,
    overlays,
    render,
    yaml_files,
)
from tests.support.knative.taskfile import configmap_patches
from tests.support.knative.validate import problems

OVERLAYS = {path.name: path for path in overlays()}
TLS = ("tls-acme", "tls-selfsigned")
PUBLIC_ISSUER = "shop-public"
SERVICES = {"gateway", "users", "products", "orders", "notifications", "dead-letters"}


@cache
def overlay(name: str) -> tuple[Manifest, ...]:
    return tuple(render(OVERLAYS[name]))


def only(found: list[Manifest] | tuple[Manifest, ...], kind: str, name: str) -> Manifest:
    (manifest,) = [m for m in found if m.kind == kind and m.name == name]
    return manifest


def test_the_overlays_are_the_tls_and_mesh_options() -> None:
    assert set(OVERLAYS) == {*TLS, "mesh", "dev-inmemory-broker"}


@pytest.mark.parametrize("name", sorted(OVERLAYS))
def test_each_overlay_renders_and_validates(name: str, crds_folder: Path) -> None:
    found = overlay(name)
    assert [problem for m in found for problem in problems(m, crds_folder)] == []


@pytest.mark.parametrize("name", sorted(OVERLAYS))
def test_each_overlay_applies_the_whole_default_install(
    name: str, rendered: list[Manifest]
) -> None:
    base = {(m.kind, m.name) for m in rendered}
    assert base <= {(m.kind, m.name) for m in overlay(name)}


def test_every_file_under_deploy_is_applied_by_an_overlay() -> None:
    applied = {(m.kind, m.name) for name in OVERLAYS for m in overlay(name)}
    for path in yaml_files(DEPLOY):
        for manifest in load_file(path):
            assert (manifest.kind, manifest.name) in applied, path


def test_the_default_install_has_neither_mesh_nor_certificates(rendered: list[Manifest]) -> None:
    groups = {m.group for m in rendered}
    assert not any(g.endswith(("istio.io", "cert-manager.io")) for g in groups)
    namespace = only(rendered, "Namespace", "shop")
    assert "istio-injection" not in namespace.body["metadata"].get("labels", {})
    assert all("serviceAccountName" not in _pod(m) for m in rendered if _is_ksvc(m))


@pytest.mark.parametrize("name", TLS)
def test_tls_redirects_plain_http_and_issues_from_the_issuer_knative_is_pointed_at(
    name: str,
) -> None:
    found = overlay(name)
    (mapping,) = [m for m in found if m.kind == "DomainMapping"]
    annotations = mapping.body["metadata"]["annotations"]
    # Knative lower-cases the value and accepts only enabled|redirected (GetHTTPOption).
    assert annotations["networking.knative.dev/http-protocol"].lower() == "redirected"
    assert "tls" not in mapping.body["spec"]  # Knative's external-domain-tls makes the cert
    gateway = only(found, "Service", "gateway")
    disabled = gateway.body["metadata"]["annotations"]
    assert disabled["networking.knative.dev/disable-external-domain-tls"] == "true"
    assert only(found, "ClusterIssuer", PUBLIC_ISSUER).api_version == "cert-manager.io/v1"
    patches = {(cm, key): value for cm, key, value in configmap_patches("tls:enable")}
    assert patches == {
        ("config-network", "external-domain-tls"): "Enabled",
        ("config-certmanager", "issuerRef"): f"kind: ClusterIssuer\nname: {PUBLIC_ISSUER}\n",
    }


def test_the_acme_issuer_asks_lets_encrypt_production_over_http01() -> None:
    acme = only(overlay("tls-acme"), "ClusterIssuer", PUBLIC_ISSUER).body["spec"]["acme"]
    assert acme["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", acme["email"])
    assert [list(solver) for solver in acme["solvers"]] == [["http01"]]


def test_the_self_signed_issuer_is_a_ca_whose_root_is_rendered_beside_it() -> None:
    found = overlay("tls-selfsigned")
    public = only(found, "ClusterIssuer", PUBLIC_ISSUER).body["spec"]
    (ca,) = [m for m in found if m.kind == "Certificate"]
    assert ca.body["spec"]["isCA"] is True
    assert ca.body["spec"]["secretName"] == public["ca"]["secretName"]
    # A ClusterIssuer reads its CA Secret from cert-manager's cluster resource namespace.
    assert ca.body["metadata"]["namespace"] == "cert-manager"
    root = only(found, "ClusterIssuer", ca.body["spec"]["issuerRef"]["name"])
    assert root.body["spec"] == {"selfSigned": {}}


def test_the_mesh_encrypts_every_pod_of_the_namespace() -> None:
    found = overlay("mesh")
    labels = only(found, "Namespace", "shop").body["metadata"]["labels"]
    assert labels["istio-injection"] == "enabled"
    (peer,) = [m for m in found if m.kind == "PeerAuthentication"]
    assert peer.body["metadata"]["namespace"] == "shop"
    assert "selector" not in peer.body["spec"]  # namespace-wide
    assert peer.body["spec"]["mtls"] == {"mode": "STRICT"}


def test_every_service_runs_as_its_own_identity_and_has_an_allow_policy() -> None:
    found = overlay("mesh")
    accounts = {m.name for m in found if m.kind == "ServiceAccount"}
    selected = {
        p.body["spec"]["selector"]["matchLabels"]["serving.knative.dev/service"]: p
        for p in found
        if p.kind == "AuthorizationPolicy"
    }
    identities = {m.name: _pod(m).get("serviceAccountName") for m in found if _is_ksvc(m)}
    assert set(identities) == SERVICES
    assert identities == {name: name for name in SERVICES}
    assert accounts >= SERVICES
    assert set(selected) == SERVICES
    assert all(p.body["spec"]["action"] == "ALLOW" for p in selected.values())
    named = {
        principal
        for p in selected.values()
        for rule in p.body["spec"]["rules"]
        for source in rule["from"]
        for principal in source["source"].get("principals", [])
    }
    assert named <= {f"cluster.local/ns/shop/sa/{account}" for account in accounts}


def test_only_orders_reaches_the_products_internal_api_directly() -> None:
    policy = only(overlay("mesh"), "AuthorizationPolicy", "products").body["spec"]
    for rule in policy["rules"]:
        principals = {p for s in rule["from"] for p in s["source"].get("principals", [])}
        operations = [t["operation"] for t in rule.get("to", [])]
        internal = any("/internal/*" in op.get("paths", []) for op in operations)
        unrestricted = not operations
        if principals == {"cluster.local/ns/shop/sa/orders"}:
            assert internal
        elif principals:
            assert not internal
            assert not unrestricted, "a direct caller other than orders may reach /internal"


def test_each_direct_caller_the_network_policies_admit_is_admitted_by_the_mesh(
    rendered: list[Manifest],
) -> None:
    """NetworkPolicy (L3) and AuthorizationPolicy (identity) must agree, or a call works in one
    install and is refused in the other."""
    policies = {m.name: m.body["spec"] for m in overlay("mesh") if m.kind == "AuthorizationPolicy"}
    for network in (m for m in rendered if m.kind == "NetworkPolicy"):
        targets = _service_names(network.body["spec"]["podSelector"])
        for rule in network.body["spec"].get("ingress", []):
            callers = {
                name
                for peer in rule.get("from", [])
                if "podSelector" in peer
                for name in _service_names(peer["podSelector"])
            }
            for target in targets & SERVICES:
                admitted = {
                    p.rsplit("/", 1)[1]
                    for r in policies[target]["rules"]
                    for s in r["from"]
                    for p in s["source"].get("principals", [])
                }
                assert callers & SERVICES <= admitted, (network.name, target)


def _is_ksvc(manifest: Manifest) -> bool:
    return manifest.kind == "Service" and manifest.group == "serving.knative.dev"


def _pod(manifest: Manifest) -> dict[str, Any]:
    pod: dict[str, Any] = manifest.body["spec"]["template"]["spec"]
    return pod


def _service_names(selector: dict[str, Any]) -> set[str]:
    key = "serving.knative.dev/service"
    names = {selector.get("matchLabels", {}).get(key)} - {None}
    for expression in selector.get("matchExpressions", []):
        if expression["key"] == key and expression["operator"] == "In":
            names |= set(expression["values"])
    return {str(n) for n in names}
