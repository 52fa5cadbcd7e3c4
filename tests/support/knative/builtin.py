"""Built-in Kubernetes kinds, checked by kubernetes-validate against the strict schemas."""

from __future__ import annotations

import kubernetes_validate  # type: ignore[import-untyped]

from tests.support.knative.manifests import Manifest

KUBERNETES_VERSION = "1.33.0"


def builtin_errors(manifest: Manifest) -> list[str]:
    """Why `manifest` fails strict validation; a kind with no schema is a failure too."""
    try:
        kubernetes_validate.validate(manifest.body, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{manifest}: no schema for it ({exc})"]
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path) or "<root>"
        return [f"{manifest}: {path}: {exc.message}"]
    return []
