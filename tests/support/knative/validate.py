"""Everything the offline validation says about one object: its schema (closed pinned CRD, or
kubernetes-validate --strict for built-in kinds) and the webhook lint."""

from __future__ import annotations

from pathlib import Path

from tests.support.knative.builtin import builtin_errors
from tests.support.knative.crds import crd_group, schema_errors
from tests.support.knative.lint import lint
from tests.support.knative.manifests import Manifest


def problems(manifest: Manifest, crds: Path) -> list[str]:
    if crd_group(manifest):
        return schema_errors(manifest, crds) + lint(manifest)
    return builtin_errors(manifest)
