"""The Knative ConfigMap keys the Taskfile patches exist under those names in Knative Serving
(checked against Serving's own ConfigMaps, pinned beside the CRDs): an unknown key is silently
ignored by Knative, so a misspelt feature flag leaves the feature off."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.support.knative.taskfile import configmap_patches
from tests.support.processes import ROOT

PINNED = ROOT / "tests" / "support" / "knative" / "schemas" / "serving" / "config"
FLAG_VALUES = {"enabled", "disabled", "allowed"}


def known_keys(configmap: str) -> dict[str, Any]:
    """Every key of a Serving ConfigMap with its default, from its documented `_example`."""
    body = yaml.safe_load((PINNED / f"{configmap}.yaml").read_text())
    assert body["metadata"]["name"] == configmap
    example: dict[str, Any] = yaml.safe_load(body["data"]["_example"])
    return example


@pytest.mark.parametrize("task", ["deploy", "tls:enable"])
def test_every_key_the_configmap_patches_is_a_real_serving_key(task: str) -> None:
    patches = configmap_patches(task)
    assert patches
    for configmap, key, _ in patches:
        assert key in known_keys(configmap), f"{configmap} has no key {key!r}"


def test_deploy_enables_the_two_pod_spec_features_the_services_use() -> None:
    features = {
        key: value for cm, key, value in configmap_patches("deploy") if cm == "config-features"
    }
    assert features == {
        "kubernetes.podspec-fieldref": "enabled",  # POD_IP for the registry address
        "kubernetes.podspec-volumes-emptydir": "enabled",  # the writable /tmp
    }
    assert all(value in FLAG_VALUES for value in features.values())


def test_a_misspelt_key_is_not_among_the_real_ones() -> None:
    """The check can fail: the key `task deploy` used to patch is unknown to Serving."""
    assert "kubernetes.podspec-emptydir" not in known_keys("config-features")
    assert "kubernetes.podspec-volumes-emptydir" in known_keys("config-features")


def test_the_pinned_configmaps_are_servings() -> None:
    for name in ("config-features", "config-network", "config-certmanager"):
        body = yaml.safe_load((PINNED / f"{name}.yaml").read_text())
        assert body["metadata"]["namespace"] == "knative-serving"
        assert len(known_keys(name)) >= 3
