"""The project's Kubernetes manifests as data: every YAML file under knative/ (the default install)
and deploy/ (its overlays and components), and what `kubectl apply -k` would apply (kustomize's
render)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.processes import ROOT

KNATIVE = ROOT / "knative"
DEPLOY = ROOT / "deploy"
# kustomization.yaml files are kustomize's input, not objects for the cluster.
NOT_OBJECTS = {"kustomization.yaml", "kustomization.yml"}


@dataclass(frozen=True)
class Manifest:
    """One object, and where it came from (a file under knative/, or the render)."""

    body: dict[str, Any]
    origin: str

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @property
    def name(self) -> str:
        return str((self.body.get("metadata") or {}).get("name", ""))

    @property
    def group(self) -> str:
        return self.api_version.split("/")[0] if "/" in self.api_version else ""

    def __str__(self) -> str:
        return f"{self.kind}/{self.name} ({self.origin})"


def load_documents(text: str, origin: str) -> list[Manifest]:
    found = []
    for index, body in enumerate(yaml.safe_load_all(text)):
        if body is None:
            continue
        if not isinstance(body, dict):
            raise ValueError(f"{origin}: document {index} is not a mapping")
        found.append(Manifest(body, origin))
    return found


def load_file(path: Path) -> list[Manifest]:
    return load_documents(path.read_text(), str(path.relative_to(ROOT)))


def yaml_files(folder: Path = KNATIVE) -> Iterator[Path]:
    for path in sorted(folder.rglob("*.y*ml")):
        if path.name not in NOT_OBJECTS:
            yield path


def all_files(folder: Path = KNATIVE) -> list[Manifest]:
    """Every object in every YAML file under knative/ (templates and examples included)."""
    return [m for path in yaml_files(folder) for m in load_file(path)]


def overlays() -> list[Path]:
    """Every overlay under deploy/overlays (each a kustomization that `task deploy` can apply)."""
    return sorted(p.parent for p in DEPLOY.glob("overlays/*/kustomization.yaml"))


def kubectl() -> str:
    binary = shutil.which("kubectl")
    if binary is None:
        message = "kubectl (for `kubectl kustomize`) is not on PATH"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


def render(folder: Path = KNATIVE) -> list[Manifest]:
    """What `kubectl apply -k knative/` applies, rendered offline by kubectl's kustomize."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {folder} failed:\n{result.stderr}")
    return load_documents(result.stdout, f"kustomize {folder.relative_to(ROOT)}")
