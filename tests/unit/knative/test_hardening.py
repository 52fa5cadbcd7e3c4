"""Issue 10, "also": no secret on a container's command line, and no pod holding a Kubernetes API
token it never uses; over every file under knative/ and what the default install and each
overlay under deploy/overlays render to."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.knative import manifests
from tests.support.knative.manifests import Manifest
from tests.support.processes import redis_server
from tests.support.services import free_port

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
# kubelet's dependent-variable expansion, `$(NAME)`: it writes the variable's value into argv,
# where `ps` on the node and the pod spec's readers see it. A shell's `$NAME` does not.
EXPANSION = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|AUTH|CREDENTIAL|PRIVATE", re.IGNORECASE)
# Options that take a password on the command line (redis-server, redis-cli, psql-style tools).
PASSWORD_OPTIONS = {"--requirepass", "--masterauth", "-a", "--pass", "--password"}


@pytest.fixture(scope="module")
def everything(files: list[Manifest], rendered: list[Manifest]) -> list[Manifest]:
    overlays = [m for folder in manifests.overlays() for m in manifests.render(folder)]
    return [*files, *rendered, *overlays]


def pod_specs(manifest: Manifest) -> Iterator[dict[str, Any]]:
    spec = manifest.body.get("spec") or {}
    if manifest.kind == "Pod":
        yield spec
    elif manifest.kind == "CronJob":
        yield spec["jobTemplate"]["spec"]["template"]["spec"]
    elif manifest.kind in WORKLOADS or (
        manifest.group == "serving.knative.dev" and manifest.kind in {"Service", "Configuration"}
    ):
        yield spec["template"]["spec"]


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def secret_values(everything: list[Manifest]) -> set[str]:
    """Every literal value a Secret holds (the templates' placeholders included)."""
    values: set[str] = set()
    for manifest in everything:
        if manifest.kind == "Secret":
            values |= {str(v) for v in (manifest.body.get("stringData") or {}).values()}
    return {v for v in values if len(v) >= 6}


def secret_variables(container: dict[str, Any]) -> set[str]:
    return {
        env["name"]
        for env in container.get("env", [])
        if "secretKeyRef" in (env.get("valueFrom") or {})
    }


def command_line_leaks(container: dict[str, Any], literals: set[str]) -> list[str]:
    words = [str(w) for w in [*container.get("command", []), *container.get("args", [])]]
    from_secrets = secret_variables(container)
    leaks = []
    for word in words:
        for variable in EXPANSION.findall(word):
            if variable in from_secrets or SECRET_NAME.search(variable):
                leaks.append(f"$({variable}) is expanded into {word!r}")
        leaks += [f"a Secret's value in {word!r}" for value in literals if value in word]
        if word in PASSWORD_OPTIONS:
            leaks.append(f"{word} takes a password on the command line")
    return leaks


def test_no_container_has_a_secret_on_its_command_line(everything: list[Manifest]) -> None:
    literals = secret_values(everything)
    assert "CHANGE-ME" in literals  # the templates' placeholder: the check looks for real values
    found = [
        f"{manifest}: {container['name']}: {leak}"
        for manifest in everything
        for pod in pod_specs(manifest)
        for container in containers(pod)
        for leak in command_line_leaks(container, literals)
    ]
    assert found == []


def test_no_secret_is_written_into_an_env_value(everything: list[Manifest]) -> None:
    found = [
        f"{manifest}: {container['name']}: {env['name']}"
        for manifest in everything
        for pod in pod_specs(manifest)
        for container in containers(pod)
        for env in container.get("env", [])
        if SECRET_NAME.search(env["name"]) and "value" in env and not env["name"].endswith("_FILE")
    ]
    assert found == []


def test_the_checks_catch_the_shapes_they_exist_for() -> None:
    container = {
        "name": "redis",
        "args": ["--requirepass", "$(REDIS_PASSWORD)", "--masterauth", "hunter2-literal"],
        "env": [{"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s"}}}],
    }
    leaks = command_line_leaks(container, {"hunter2-literal"})
    assert len(leaks) == 4
    assert command_line_leaks({"name": "ok", "args": ["http://$(POD_IP):8012"]}, set()) == []


def test_no_pod_mounts_a_service_account_token(everything: list[Manifest]) -> None:
    """None of our pods calls the Kubernetes API. Knative allows the field in a Service's
    template, and only as false (serving's pkg/apis/serving/fieldmask.go, PodSpecMask)."""
    pods = [(manifest, pod) for manifest in everything for pod in pod_specs(manifest)]
    assert {m.name for m, _ in pods} >= {"gateway", "users", "notifications", "redis"}
    found = [str(m) for m, pod in pods if pod.get("automountServiceAccountToken") is not False]
    assert found == []


def redis_pod(rendered: list[Manifest]) -> dict[str, Any]:
    statefulset = next(m for m in rendered if m.kind == "StatefulSet" and m.name == "redis")
    return next(pod_specs(statefulset))


def mounted(path: str, mounts: dict[str, Path]) -> str:
    for mount_path, local in mounts.items():
        path = path.replace(mount_path, str(local))
    return path


def test_redis_built_from_the_manifest_requires_its_password(rendered: list[Manifest]) -> None:
    """Run the pod's own init step and server arguments (its volumes as local folders, the
    password from the Secret as the kubelet would put it in the environment), then connect."""
    pod = redis_pod(rendered)
    (init,) = pod["initContainers"]
    (server,) = pod["containers"]
    password = "from-the-secret-" + "x" * 16
    with tempfile.TemporaryDirectory() as folder:
        mounts = {
            mount["mountPath"]: Path(folder) / mount["name"]
            for container in (init, server)
            for mount in container.get("volumeMounts", [])
        }
        for local in mounts.values():
            local.mkdir(exist_ok=True)
        env = dict.fromkeys(secret_variables(init), password) | {"PATH": os.environ["PATH"]}
        script = [mounted(str(w), mounts) for w in [*init["command"], *init.get("args", [])]]
        subprocess.run(script, env=env, check=True, timeout=10)
        port = free_port()
        args = [mounted(str(w), mounts) for w in server["args"]]
        assert args[0].endswith(".conf")  # the image's entrypoint runs redis-server with it
        process = subprocess.Popen(
            [redis_server(), *args, "--port", str(port), "--bind", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_until_listening(port)
            with redis.Redis(port=port) as stranger, pytest.raises(redis.AuthenticationError):
                stranger.ping()
            with redis.Redis(port=port, password=password) as owner:
                assert owner.ping() is True
                assert owner.config_get("appendonly") == {"appendonly": "yes"}
        finally:
            process.terminate()
            process.wait(10)


def wait_until_listening(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("redis-server did not listen within 10s")


def test_the_redis_config_lives_in_memory_and_only_redis_reads_it(
    rendered: list[Manifest],
) -> None:
    pod = redis_pod(rendered)
    (init,) = pod["initContainers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    (config,) = [m for m in init["volumeMounts"] if m["mountPath"] == "/etc/redis"]
    assert volumes[config["name"]]["emptyDir"]["medium"] == "Memory"  # not on the node's disk
    assert "umask 077" in " ".join(init["command"] + init.get("args", []))
