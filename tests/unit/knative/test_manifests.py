"""Every object under knative/, and what `kubectl apply -k knative/` would apply, passes the
closed Knative schemas, kubernetes-validate --strict and the webhook lint."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from tests.support.knative.manifests import KNATIVE, Manifest, yaml_files
from tests.support.knative.validate import problems

FUNCTIONS = {"users", "products", "orders", "notifications"}


def test_every_file_under_knative_validates(files: list[Manifest], crds_folder: Path) -> None:
    assert len(files) > 20
    found = [problem for manifest in files for problem in problems(manifest, crds_folder)]
    assert found == []


def test_what_kubectl_apply_k_applies_validates(
    rendered: list[Manifest], crds_folder: Path
) -> None:
    found = [problem for manifest in rendered for problem in problems(manifest, crds_folder)]
    assert found == []


def test_the_kustomization_applies_the_whole_system(rendered: list[Manifest]) -> None:
    kinds = Counter(m.kind for m in rendered)
    services = {
        m.name for m in rendered if m.group == "serving.knative.dev" and m.kind == "Service"
    }
    assert services == {"gateway", *FUNCTIONS, "dead-letters"}
    assert kinds["StatefulSet"] == 2
    assert kinds["Broker"] == 1
    assert kinds["Trigger"] >= 3
    assert kinds["PingSource"] >= 1
    assert kinds["SinkBinding"] >= 1
    assert kinds["DomainMapping"] == 1
    assert kinds["NetworkPolicy"] >= 5
    names = {(m.kind, m.name) for m in rendered}
    assert {("Deployment", "otel-collector"), ("Deployment", "jaeger")} <= names
    assert ("ConfigMap", "otel-collector-config") in names
    assert all(
        m.body["metadata"].get("namespace") == "shop" for m in rendered if m.kind != "Namespace"
    )


def test_every_manifest_file_is_applied_or_is_a_template_or_example(
    rendered: list[Manifest],
) -> None:
    applied = {(m.kind, m.name) for m in rendered}
    for path in yaml_files():
        relative = path.relative_to(KNATIVE).as_posix()
        if relative.startswith("examples/") or relative.endswith(".example.yaml"):
            continue
        for body in yaml.safe_load_all(path.read_text()):
            assert (body["kind"], body["metadata"]["name"]) in applied, relative


def test_no_secret_is_applied_and_the_template_holds_only_placeholders(
    rendered: list[Manifest], files: list[Manifest]
) -> None:
    assert [m for m in rendered if m.kind == "Secret"] == []
    templates = [m for m in files if m.kind == "Secret"]
    assert {m.name for m in templates} >= {"shop-postgres", "shop-redis", "shop-jwt", "shop-admin"}
    for secret in templates:
        for key, value in secret.body["stringData"].items():
            assert "CHANGE-ME" in value or key == "username", (secret.name, key)


def test_functions_scale_to_zero_privately_and_the_gateway_stays_warm_and_public(
    rendered: list[Manifest],
) -> None:
    for service in (
        m for m in rendered if m.kind == "Service" and m.group == "serving.knative.dev"
    ):
        labels = service.body["metadata"].get("labels", {})
        template = service.body["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        spec = template["spec"]
        container = spec["containers"][0]
        private = labels.get("networking.knative.dev/visibility") == "cluster-local"
        if service.name == "gateway":
            assert not private
            assert annotations["autoscaling.knative.dev/min-scale"] == "1"
        else:
            assert private, service.name
            assert annotations["autoscaling.knative.dev/min-scale"] == "0"
            assert int(annotations["autoscaling.knative.dev/max-scale"]) > 0
            assert float(annotations["autoscaling.knative.dev/target"]) > 0
            assert spec["containerConcurrency"] > 0
        assert 0 < spec["timeoutSeconds"] <= 600
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        assert container["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert {"requests", "limits"} <= set(container["resources"])
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert "/tmp" in mounts  # noqa: S108 (the only writable path beside the read-only root)


def test_no_literal_secret_reaches_a_container(rendered: list[Manifest]) -> None:
    sensitive = ("PASSWORD", "SECRET", "PRIVATE_KEY", "TOKEN", "SMTP_URL", "REDIS_URL")
    for manifest in rendered:
        for container in _containers(manifest.body):
            for env in container.get("env", []):
                if any(word in env["name"] for word in sensitive) and not env["name"].endswith(
                    "_FILE"
                ):
                    assert "value" not in env, f"{manifest}: {env['name']} is a literal"
    config = next(m for m in rendered if m.kind == "ConfigMap" and m.name == "shop-config")
    assert not any(word in key for key in config.body["data"] for word in sensitive)


def _containers(body: dict[str, Any]) -> list[dict[str, Any]]:
    spec = body.get("spec")
    if not isinstance(spec, dict):
        return []
    template = spec.get("template")
    pod = template.get("spec") if isinstance(template, dict) else None
    containers = pod.get("containers") if isinstance(pod, dict) else None
    return containers if isinstance(containers, list) else []


def test_the_postgres_init_script_parses_and_makes_a_database_per_function(
    rendered: list[Manifest], tmp_path: Path
) -> None:
    init = next(m for m in rendered if m.kind == "ConfigMap" and m.name == "postgres-init")
    (script,) = init.body["data"].values()
    path = tmp_path / "init.sh"
    path.write_text(script)
    assert subprocess.run(["sh", "-n", str(path)], capture_output=True).returncode == 0
    loop = re.search(r"for service in ([a-z ]+); do", script)
    assert loop is not None
    assert set(loop.group(1).split()) == FUNCTIONS | {"deadletters"}  # the dead-letter sink's
    assert 'CREATE DATABASE :"svc" OWNER :"svc";' in script
    postgres = next(m for m in rendered if m.kind == "StatefulSet" and m.name == "postgres")
    volumes = postgres.body["spec"]["template"]["spec"]["volumes"]
    assert {"secretName": "shop-postgres", "defaultMode": 0o400} in [
        v.get("secret") for v in volumes
    ]


def test_the_namespace_admits_sink_bindings_in_inclusion_mode(rendered: list[Manifest]) -> None:
    """SinkBinding's webhook in inclusion mode binds only in namespaces labelled so."""
    bound = {m.body["metadata"]["namespace"] for m in rendered if m.kind == "SinkBinding"}
    assert bound == {"shop"}
    namespace = next(m for m in rendered if m.kind == "Namespace" and m.name == "shop")
    assert namespace.body["metadata"]["labels"]["bindings.knative.dev/include"] == "true"
