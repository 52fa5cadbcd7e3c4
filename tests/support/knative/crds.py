"""The pinned CRD schemas (Knative, cert-manager, Istio), closed, as validators. They are vendored
as test data in tests/support/knative/schemas/ (upstream files, their licences and commits in its
README), so the validation runs from any clone.

Upstream schemas never say `additionalProperties: false`, so a misspelt field passes them.
Closing them (every object with `properties` and no `x-kubernetes-preserve-unknown-fields`)
makes a typo an error, as kubectl's strict field validation and the webhooks make it on a
cluster. Feature-gated and free-form parts stay open; the webhook lint covers some of those.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.support.knative.manifests import Manifest

PINNED = Path(__file__).parent / "schemas"
# The API groups whose objects are checked against a pinned CRD (all others are built-in kinds).
CRD_GROUPS = ("knative.dev", "cert-manager.io", "istio.io")
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
METADATA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "namespace": {"type": "string"},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
}


def crds_folder() -> Path:
    return PINNED


def close(schema: Any) -> Any:
    """A copy of `schema` where every object with declared properties admits no others."""
    if isinstance(schema, list):
        return [close(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: close(value) for key, value in schema.items()}
    if closed.pop("x-kubernetes-int-or-string", False):
        closed.pop("type", None)
        closed["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if "properties" in closed and not closed.get("x-kubernetes-preserve-unknown-fields"):
        closed.setdefault("additionalProperties", False)
    return closed


def crd_files(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.glob("*/*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
                yield document


@cache
def schemas(folder: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the closed schema, for every served version of every CRD."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for crd in crd_files(folder):
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if not version.get("served", True):
                continue
            schema = close(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
            api_version = f"{group}/{version['name']}"
            schema.setdefault("properties", {}).update(
                apiVersion={"const": api_version},
                kind={"const": kind},
                metadata=METADATA,
            )
            schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind"})
            schema["additionalProperties"] = False
            found[(api_version, kind)] = schema
    return found


def crd_group(manifest: Manifest) -> bool:
    return manifest.group.endswith(CRD_GROUPS)


def schema_errors(manifest: Manifest, folder: Path) -> list[str]:
    """Every way `manifest` breaks its closed CRD schema ([] when it conforms)."""
    validator = _validator(folder, manifest.api_version, manifest.kind)
    if validator is None:
        return [f"{manifest}: no CRD schema for {manifest.api_version} {manifest.kind}"]
    return [
        f"{manifest}: {'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(manifest.body), key=str)
    ]


@cache
def _validator(folder: Path, api_version: str, kind: str) -> jsonschema.Draft7Validator | None:
    schema = schemas(folder).get((api_version, kind))
    return None if schema is None else jsonschema.Draft7Validator(schema)
