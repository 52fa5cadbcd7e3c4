"""`task rollout:blue-green`: each step leaves traffic the webhook accepts, the flow can repeat
under Knative's rule on template names, and the example is what stage really produces."""

from __future__ import annotations

import copy
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.support.knative.lint import template_name_change, traffic
from tests.support.knative.manifests import KNATIVE, Manifest, kubectl
from tests.support.processes import tool

EXAMPLE = KNATIVE / "examples" / "blue-green" / "orders.yaml"
GREEN_IMAGE = "dev.local/shop/orders:0.2.0"


@pytest.fixture(scope="module")
def rollout() -> ModuleType:
    return tool("rollout")


def served(traffic: list[dict[str, Any]], template_name: str | None = None) -> dict[str, Any]:
    metadata = {"name": template_name} if template_name else {}
    return {
        "metadata": {"name": "orders"},
        "spec": {
            "template": {"metadata": metadata, "spec": {"containers": [{"image": "old"}]}},
            "traffic": traffic,
        },
        "status": {
            "latestReadyRevisionName": "orders-00003",
            "traffic": [{"revisionName": "orders-00003", "percent": 100}],
        },
    }


def test_stage_pins_blue_and_lets_knative_name_the_green_revision(rollout: ModuleType) -> None:
    patch = rollout.stage_patch(served([]), "registry.example/orders:2")
    ops = {op["path"]: op for op in patch}
    assert ops["/spec/template/spec/containers/0/image"]["value"] == "registry.example/orders:2"
    assert "/spec/template/metadata/name" not in ops
    targets = ops["/spec/traffic"]["value"]
    assert {t["tag"]: t["percent"] for t in targets} == {"blue": 100, "green": 0}
    assert traffic("orders", targets) == []


def test_stage_removes_a_revision_name_an_older_rollout_set(rollout: ModuleType) -> None:
    patch = rollout.stage_patch(served([], template_name="orders-v2"), "registry.example/o:3")
    assert {"op": "remove", "path": "/spec/template/metadata/name"} in patch


def test_the_green_tag_is_pinned_to_the_revision_knative_made(rollout: ModuleType) -> None:
    staged = served(
        [
            {"revisionName": "orders-00003", "percent": 100, "tag": "blue"},
            {"latestRevision": True, "percent": 0, "tag": "green"},
        ]
    )
    staged["status"]["latestReadyRevisionName"] = "orders-00004"
    (op,) = rollout.pin_patch(staged)
    assert {t.get("tag"): t.get("revisionName") for t in op["value"]} == {
        "blue": "orders-00003",
        "green": "orders-00004",
        "latest": None,
    }
    assert traffic("orders", op["value"]) == []
    staged["status"]["latestReadyRevisionName"] = "orders-00003"  # the image did not change
    with pytest.raises(SystemExit, match="no new revision"):
        rollout.pin_patch(staged)


@pytest.mark.parametrize(("step", "blue"), [("promote", 0), ("rollback", 100)])
def test_promote_and_rollback_move_every_percent_between_the_tags(
    rollout: ModuleType, step: str, blue: int
) -> None:
    staged = rollout.traffic("orders-00003", "orders-00004", 100)
    (op,) = rollout.shift_patch(served(staged), blue)
    assert {t.get("tag"): t["percent"] for t in op["value"]}["blue"] == blue
    assert traffic("orders", op["value"]) == []


def test_promote_without_a_staged_green_is_refused(rollout: ModuleType) -> None:
    with pytest.raises(SystemExit, match="stage"):
        rollout.shift_patch(served([{"latestRevision": True, "percent": 100}]), 0)


def test_a_later_apply_that_changes_the_template_is_accepted_after_a_rollout(
    rollout: ModuleType, rendered: list[Manifest], tmp_path: Path
) -> None:
    """Stage, promote, then `kubectl apply -k` with a new image: client-side apply keeps what
    the patches set outside the manifest, so the template must carry no name for Knative to
    accept the change (VerifyNameChange)."""
    kubectl()
    base = next(m.body for m in rendered if m.kind == "Service" and m.name == "orders")
    live = {**copy.deepcopy(base), "status": {"latestReadyRevisionName": "orders-00001"}}
    staged = rollout.patched(live, rollout.stage_patch(live, GREEN_IMAGE), tmp_path)
    assert template_name_change(live["spec"]["template"], staged["spec"]["template"]) == []
    staged["status"] = {"latestReadyRevisionName": "orders-00002"}
    promoted = rollout.patched(staged, rollout.pin_patch(staged), tmp_path)
    later = copy.deepcopy(promoted)
    later["spec"]["template"]["spec"]["containers"][0]["image"] = "dev.local/shop/orders:0.3.0"
    assert template_name_change(promoted["spec"]["template"], later["spec"]["template"]) == []
    # What the old rollout did (name the revision) is what Knative refuses here:
    named = copy.deepcopy(promoted)
    named["spec"]["template"]["metadata"]["name"] = "orders-v2"
    again = copy.deepcopy(later)
    again["spec"]["template"]["metadata"]["name"] = "orders-v2"
    assert template_name_change(named["spec"]["template"], again["spec"]["template"]) != []


def test_the_example_is_what_stage_makes_of_the_real_service(
    rollout: ModuleType, tmp_path: Path
) -> None:
    kubectl()
    assert yaml.safe_load(EXAMPLE.read_text()) == rollout.example("orders", GREEN_IMAGE, tmp_path)
