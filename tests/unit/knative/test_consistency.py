"""The manifests agree with the code: the settings it reads, the events it produces and consumes,
the paths it serves, the images the Taskfile builds and the gateway's fallback URLs. Everything
on the code's side is read from the source or from the apps themselves, never from a list."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from litestar import Litestar

from shop.runtime.catalog import app_factory
from tests.support.knative.manifests import Manifest
from tests.support.knative.source_scan import EnvRead, env_reads, string_constants
from tests.support.processes import ROOT

# Set by the platform, not by us: Knative (runtime contract), the kubelet, a SinkBinding.
KNATIVE_ENV = {"PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION", "HOSTNAME"}
SINK_BINDING_ENV = {"K_SINK", "K_CE_OVERRIDES"}
# Read by libraries rather than by our code: the OpenTelemetry SDK and Python itself.
LIBRARY_ENV = re.compile(r"^(OTEL_[A-Z_]+|PYTHON[A-Z_]*|PATH|HOME)$")


def tools_images() -> ModuleType:
    spec = importlib.util.spec_from_file_location("images", ROOT / "tools" / "images.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def services(rendered: list[Manifest]) -> dict[str, Manifest]:
    return {m.name: m for m in rendered if m.kind == "Service" and m.group == "serving.knative.dev"}


@pytest.fixture(scope="module")
def reads() -> list[EnvRead]:
    found = env_reads()
    assert len(found) > 30, "the source scan found too few environment reads"
    return found


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Litestar]]:
    """Each service's real app, built the way `shop serve` builds it (no I/O until started)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHOP_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        built = {name: app_factory(name)() for name in tools_images().SERVICES}
        built["dead-letters"] = built["notifications"]  # its image, in a store-only role
        yield built


def container(service: Manifest) -> dict[str, Any]:
    found: dict[str, Any] = service.body["spec"]["template"]["spec"]["containers"][0]
    return found


def image_env() -> set[str]:
    """The ENV names of the Dockerfile's last (runtime) stage."""
    stage = ROOT.joinpath("Dockerfile").read_text().split("\nFROM ")[-1]
    names: set[str] = set()
    for instruction in re.findall(r"^ENV (.+?)(?<!\\)$", stage, re.MULTILINE | re.DOTALL):
        names |= set(re.findall(r"([A-Z_][A-Z0-9_]*)=", instruction))
    return names


def set_env(service: Manifest, rendered: list[Manifest]) -> set[str]:
    """Every variable the Service's container starts with: its env, its envFrom ConfigMaps,
    the image's ENV, and what Knative and the SinkBindings inject."""
    spec = container(service)
    names = {env["name"] for env in spec.get("env", [])}
    for source in spec.get("envFrom", []):
        ref = source.get("configMapRef", {}).get("name")
        config = next(m for m in rendered if m.kind == "ConfigMap" and m.name == ref)
        names |= set(config.body["data"])
    names |= image_env() | KNATIVE_ENV
    if service.name in sink_binding_subjects(rendered):
        names |= SINK_BINDING_ENV
    return names


def sink_binding_subjects(rendered: list[Manifest]) -> set[str]:
    return {m.body["spec"]["subject"]["name"] for m in rendered if m.kind == "SinkBinding"}


def is_read(name: str, reads: list[EnvRead]) -> bool:
    return any(read.matches(name) for read in reads)


def test_every_variable_the_code_requires_is_set_for_the_services(
    services: dict[str, Manifest], rendered: list[Manifest], reads: list[EnvRead]
) -> None:
    everywhere = set.union(*(set_env(s, rendered) for s in services.values()))
    unset = [f"{r.name} ({r.where})" for r in reads if r.required and not r.pattern]
    assert [name for name in unset if name.split()[0] not in everywhere] == []


def test_every_variable_the_manifests_set_is_read_by_the_code(
    services: dict[str, Manifest], rendered: list[Manifest], reads: list[EnvRead]
) -> None:
    """A misspelt name is silently ignored by a service: catch it here."""
    config = next(m for m in rendered if m.kind == "ConfigMap" and m.name == "shop-config")
    for service in services.values():
        env = container(service).get("env", [])
        expanded = {name for e in env for name in re.findall(r"\$\((\w+)\)", e.get("value", ""))}
        for name in {e["name"] for e in env} | set(config.body["data"]):
            if not LIBRARY_ENV.match(name) and name not in expanded:
                assert is_read(name, reads), f"{service.name} sets {name}, which nothing reads"
    for name in image_env():
        assert LIBRARY_ENV.match(name) or is_read(name, reads), f"the image sets unread {name}"


def test_every_service_reaches_redis_and_every_function_its_own_database(
    services: dict[str, Manifest], rendered: list[Manifest], reads: list[EnvRead]
) -> None:
    database = {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD"}
    assert all(is_read(name, reads) for name in database | {"REDIS_URL"})
    for name, service in services.items():
        names = set_env(service, rendered)
        if name == "dead-letters":  # the dead-letter sink: in no registry, its own database
            assert "REDIS_URL" not in names
            values = {e["name"]: e.get("value") for e in container(service).get("env", [])}
            assert values["DB_NAME"] == values["DB_USER"] == "deadletters"
            continue
        assert "REDIS_URL" in names, name
        if name != "gateway":
            assert database <= names, name
            values = {e["name"]: e.get("value") for e in container(service).get("env", [])}
            assert values["DB_NAME"] == values["DB_USER"] == name


def test_producers_get_the_broker_from_a_sink_binding_the_code_reads(
    rendered: list[Manifest], reads: list[EnvRead], services: dict[str, Manifest]
) -> None:
    subjects = sink_binding_subjects(rendered)
    assert subjects
    assert subjects <= set(services)
    assert is_read("K_SINK", reads)


def test_every_trigger_filter_type_is_produced_and_consumed(
    rendered: list[Manifest], services: dict[str, Manifest], apps: dict[str, Litestar]
) -> None:
    triggers = [m for m in rendered if m.kind == "Trigger"]
    assert triggers
    for trigger in triggers:
        attributes = trigger.body["spec"]["filter"]["attributes"]
        subscriber = trigger.body["spec"]["subscriber"]
        consumer = subscriber["ref"]["name"]
        assert consumer in services, f"{trigger}: no Service {consumer}"
        assert subscriber["uri"] in paths(apps[consumer]), f"{trigger}: {consumer} lacks the path"
        others = tuple(f"functions/{s}" for s in services if s not in {consumer, "gateway"})
        produced, consumed = string_constants(others), string_constants((f"functions/{consumer}",))
        for key in ("type", "source"):
            if key in attributes:
                assert attributes[key] in produced, f"{trigger}: nothing produces {attributes[key]}"
        assert attributes["type"] in consumed, f"{trigger}: {consumer} never handles it"


def test_probe_and_sink_paths_are_served_by_the_apps(
    rendered: list[Manifest], services: dict[str, Manifest], apps: dict[str, Litestar]
) -> None:
    for name, service in services.items():
        spec = container(service)
        for probe in ("readinessProbe", "livenessProbe"):
            path = spec[probe]["httpGet"]["path"]
            assert path in paths(apps[name]), f"{name} does not serve its {probe} {path}"
    for sink in sinks(rendered):
        ref, uri = sink["ref"], sink.get("uri", "/")
        if ref["kind"] == "Service":
            assert uri in paths(apps[ref["name"]]), f"{ref['name']} does not serve {uri}"


def test_the_images_are_those_the_taskfile_builds(services: dict[str, Manifest]) -> None:
    taskfile = yaml.safe_load(ROOT.joinpath("Taskfile.yml").read_text())
    task = taskfile["tasks"]["images"]
    defaults = {
        key: re.search(r'default "([^"]+)"', value).group(1)  # type: ignore[union-attr]
        for key, value in task["vars"].items()
    }
    assert any("tools/images.py build" in str(cmd) for cmd in task["cmds"])
    built = {
        tools_images().image_name(s, defaults["IMAGE_PREFIX"], defaults["TAG"])
        for s in tools_images().SERVICES
    }
    assert set(services) == {*tools_images().SERVICES, "dead-letters"}
    assert {container(s)["image"] for s in services.values()} == built


def test_the_gateways_fallback_urls_name_the_cluster_local_services(
    services: dict[str, Manifest], rendered: list[Manifest], reads: list[EnvRead]
) -> None:
    routed = yaml.safe_load(ROOT.joinpath("gateway", "routes.yaml").read_text())["services"]
    config = next(m for m in rendered if m.kind == "ConfigMap" and m.name == "shop-config")
    gateway_env = set_env(services["gateway"], rendered)
    for name in routed:
        variable = f"{name.upper()}_URL"
        assert is_read(variable, reads), f"the code never reads {variable}"
        assert variable in gateway_env, f"the gateway has no {variable}"
        assert name in services, f"the gateway routes to {name}, which is not deployed"
        labels = services[name].body["metadata"].get("labels", {})
        assert labels.get("networking.knative.dev/visibility") == "cluster-local"
        namespace = services[name].body["metadata"]["namespace"]
        url = config.body["data"][variable]
        assert url == f"http://{name}.{namespace}.svc.cluster.local", url


def paths(app: Litestar) -> set[str]:
    return {route.path for route in app.routes}


def sinks(rendered: list[Manifest]) -> Iterator[dict[str, Any]]:
    for manifest in rendered:
        spec = manifest.body.get("spec", {})
        if manifest.kind in {"PingSource", "SinkBinding"}:
            yield spec["sink"]
        if manifest.kind in {"Broker", "Trigger"} and "deadLetterSink" in spec.get("delivery", {}):
            yield spec["delivery"]["deadLetterSink"]


def test_the_source_scan_sees_reads_with_and_without_defaults() -> None:
    reads = {read.name: read for read in env_reads(("shop",))}
    assert reads["LOG_LEVEL"].required is False  # env_str with a default
    assert reads["REDIS_URL"].required is False  # environ.get: None when unset
    assert any(r.pattern and r.matches("ORDERS_URL") for r in reads.values())
    assert not Path(ROOT / "knative" / "crds").exists()  # the schemas are never copied in
