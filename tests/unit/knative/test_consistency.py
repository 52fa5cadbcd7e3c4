"""The manifests agree with the code: the settings it reads, the events it produces and consumes,
the paths it serves, the images the Taskfile builds and the gateway's fallback URLs. Everything
on the code's side comes from the code itself (the settings schema, the apps, the source), never
from a list kept here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from litestar import Litestar

from shop.runtime.catalog import app_factory
from shop.runtime.schema import variables
from tests.support.knative.manifests import Manifest
from tests.support.knative.source_scan import string_constants
from tests.support.processes import ROOT, tool

# Set by the platform, not by us: Knative (runtime contract), the kubelet, a SinkBinding.
KNATIVE_ENV = {"PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION", "HOSTNAME"}
SINK_BINDING_ENV = {"K_SINK", "K_CE_OVERRIDES"}
# Read by shop-serve (shop.runtime.entry) to pick the app; each image sets it.
ENTRY_ENV = {"SHOP_SERVICE"}
# Read by libraries rather than by our code: the OpenTelemetry SDK and Python itself.
LIBRARY_ENV = re.compile(r"^(OTEL_[A-Z_]+|PYTHON[A-Z_]*|PATH|HOME)$")


def tools_images() -> ModuleType:
    return tool("images")


@pytest.fixture(scope="module")
def services(rendered: list[Manifest]) -> dict[str, Manifest]:
    return {m.name: m for m in rendered if m.kind == "Service" and m.group == "serving.knative.dev"}


def configdoc() -> ModuleType:
    return tool("configdoc")


@pytest.fixture(scope="module")
def declared() -> dict[str, set[str]]:
    """Each service's variables, from its settings schema."""
    doc = configdoc()
    found = {name: {v.name for v in variables(doc.schema(name))} for name in doc.SCHEMAS}
    assert len(found["orders"]) > 30, "the schema declares too few variables"
    found["dead-letters"] = found["notifications"]  # its image, in a store-only role
    return found


def is_read(name: str, declared: dict[str, set[str]], service: str | None = None) -> bool:
    if name in ENTRY_ENV:
        return True
    if service is not None:
        return name in declared[service]
    return any(name in names for names in declared.values())


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


def test_every_variable_a_service_is_given_is_one_its_schema_declares(
    services: dict[str, Manifest], rendered: list[Manifest], declared: dict[str, set[str]]
) -> None:
    """A misspelt name, or one meant for another service, is silently ignored: catch it here."""
    config = next(m for m in rendered if m.kind == "ConfigMap" and m.name == "shop-config")
    for name, service in services.items():
        env = container(service).get("env", [])
        expanded = {n for e in env for n in re.findall(r"\$\((\w+)\)", e.get("value", ""))}
        for variable in {e["name"] for e in env} - expanded:
            if not LIBRARY_ENV.match(variable):
                assert is_read(variable, declared, name), f"{name} sets {variable}, never read"
    for variable in config.body["data"]:
        assert LIBRARY_ENV.match(variable) or is_read(variable, declared), f"unread {variable}"
    for variable in image_env():
        assert LIBRARY_ENV.match(variable) or is_read(variable, declared), f"unread {variable}"


def test_the_broker_settings_the_functions_read_are_not_set_by_hand(
    services: dict[str, Manifest], declared: dict[str, set[str]]
) -> None:
    """In a cluster the SinkBinding sets K_SINK; BROKER_URL is the laptop's."""
    for name, service in services.items():
        names = {e["name"] for e in container(service).get("env", [])}
        assert not names & {"K_SINK", "K_CE_OVERRIDES"}, name


def test_every_service_reaches_redis_and_every_function_its_own_database(
    services: dict[str, Manifest], rendered: list[Manifest], declared: dict[str, set[str]]
) -> None:
    database = {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD"}
    for name, service in services.items():
        assert "REDIS_URL" in declared[name]
        if name != "gateway":
            assert database <= declared[name], name
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
    rendered: list[Manifest], declared: dict[str, set[str]], services: dict[str, Manifest]
) -> None:
    subjects = sink_binding_subjects(rendered)
    assert subjects
    assert subjects <= set(services)
    assert all(declared[name] >= SINK_BINDING_ENV for name in subjects)


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
    services: dict[str, Manifest], rendered: list[Manifest], declared: dict[str, set[str]]
) -> None:
    routed = yaml.safe_load(ROOT.joinpath("gateway", "routes.yaml").read_text())["services"]
    config = next(m for m in rendered if m.kind == "ConfigMap" and m.name == "shop-config")
    gateway_env = set_env(services["gateway"], rendered)
    for name in routed:
        variable = f"{name.upper()}_URL"
        assert variable in declared["gateway"], f"the gateway never reads {variable}"
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


def test_the_crd_schemas_are_never_copied_into_the_manifests() -> None:
    assert not Path(ROOT / "knative" / "crds").exists()
