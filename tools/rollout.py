"""Blue-green for one Knative Service with traffic tags (`task rollout:blue-green`).

    python tools/rollout.py stage orders --image REGISTRY/shop/orders:0.2.0
    python tools/rollout.py promote orders
    python tools/rollout.py rollback orders
    python tools/rollout.py example orders --image dev.local/shop/orders:0.2.0 > FILE

stage: traffic is pinned to the serving revision, tagged `blue` (100%); the new image makes a new
revision, named by Knative (<service>-<generation>), tagged `green` at 0% and reachable at its
tag URL (green-<service>.<namespace>...) for testing. promote: all traffic to green, blue stays
tagged for a rollback. rollback: all back. example: the Service as stage leaves it on a fresh
install, rendered from knative/ (knative/examples/blue-green/orders.yaml is this output).

Revisions are never named here, and a name an older rollout set is removed: Knative refuses a
changed template that keeps its name (VerifyNameChange in serving's revision_validation.go), so
a named revision would make the next `kubectl apply -k` that changes the template fail.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "/spec/template/spec/containers/0/image"


def kubectl(*args: str) -> str:
    return subprocess.run(["kubectl", *args], check=True, capture_output=True, text=True).stdout


def service(name: str, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(kubectl("get", "ksvc", name, "-n", namespace, "-o", "json"))
    return found


def serving_revision(current: dict[str, Any]) -> str:
    serving = [t for t in current.get("status", {}).get("traffic", []) if t.get("percent")]
    blue = max(serving, key=lambda t: t["percent"])["revisionName"] if serving else None
    return str(blue or current["status"]["latestReadyRevisionName"])


def stage_patch(current: dict[str, Any], image: str) -> list[dict[str, Any]]:
    """Pin all traffic on blue and roll the template to `image`; green follows the latest."""
    blue = serving_revision(current)
    patch: list[dict[str, Any]] = [{"op": "replace", "path": IMAGE, "value": image}]
    if current["spec"]["template"].get("metadata", {}).get("name"):
        patch.append({"op": "remove", "path": "/spec/template/metadata/name"})
    staged = [
        {"revisionName": blue, "percent": 100, "tag": "blue"},
        {"latestRevision": True, "percent": 0, "tag": "green"},
    ]
    patch.append({"op": "add", "path": "/spec/traffic", "value": staged})
    return patch


def pin_patch(current: dict[str, Any]) -> list[dict[str, Any]]:
    """Once the new revision is ready: green names it, so later template changes leave it."""
    tagged = {t.get("tag"): t.get("revisionName") for t in current["spec"].get("traffic", [])}
    blue, green = tagged.get("blue"), current["status"]["latestReadyRevisionName"]
    if not blue or green == blue:
        raise SystemExit("rollout: the new template made no new revision (same image?)")
    return [{"op": "replace", "path": "/spec/traffic", "value": traffic(blue, green, 100)}]


def shift_patch(current: dict[str, Any], blue_percent: int) -> list[dict[str, Any]]:
    tagged = {t.get("tag"): t.get("revisionName") for t in current["spec"].get("traffic", [])}
    if not tagged.get("blue") or not tagged.get("green"):
        raise SystemExit("rollout: no blue and green tags on this Service; run the stage step")
    value = traffic(tagged["blue"], tagged["green"], blue_percent)
    return [{"op": "replace", "path": "/spec/traffic", "value": value}]


def traffic(blue: str, green: str, blue_percent: int) -> list[dict[str, Any]]:
    return [
        {"revisionName": blue, "percent": blue_percent, "tag": "blue"},
        {"revisionName": green, "percent": 100 - blue_percent, "tag": "green"},
        {"latestRevision": True, "percent": 0, "tag": "latest"},
    ]


def patched(body: dict[str, Any], patch: list[dict[str, Any]], folder: Path) -> dict[str, Any]:
    """`body` after `patch`, applied offline by kubectl (`kubectl patch --local`)."""
    source = folder / "service.json"
    source.write_text(json.dumps(body))
    out = kubectl(
        "patch", "--local", "-f", str(source), "--type=json", f"-p={json.dumps(patch)}", "-o=json"
    )
    result: dict[str, Any] = json.loads(out)
    return result


def example(name: str, image: str, folder: Path) -> dict[str, Any]:
    """The Service as stage leaves it after the first install (revisions 00001 -> 00002)."""
    rendered = yaml.safe_load_all(kubectl("kustomize", str(ROOT / "knative")))
    (base,) = [
        d for d in rendered if d and d["kind"] == "Service" and d["metadata"]["name"] == name
    ]
    first, second = f"{name}-00001", f"{name}-00002"
    current = {**base, "status": {"latestReadyRevisionName": first}}
    staged = patched(current, stage_patch(current, image), folder)
    staged["status"] = {"latestReadyRevisionName": second}
    pinned = patched(staged, pin_patch(staged), folder)
    pinned.pop("status", None)
    return pinned


def wait_ready(target: list[str], generation: int, timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        current: dict[str, Any] = json.loads(kubectl("get", *target, "-o", "json"))
        status = current.get("status", {})
        ready = {c["type"]: c for c in status.get("conditions", [])}.get("Ready", {})
        if status.get("observedGeneration", 0) >= generation and ready.get("status") == "True":
            return current
        if status.get("observedGeneration", 0) >= generation and ready.get("status") == "False":
            raise SystemExit(f"rollout: not ready: {ready.get('message', '')}")
        if time.monotonic() > deadline:
            raise SystemExit("rollout: timed out waiting for the Service to be ready")
        time.sleep(2)


def apply(target: list[str], patch: list[dict[str, Any]]) -> dict[str, Any]:
    changed = json.loads(
        kubectl("patch", *target, "--type=json", f"-p={json.dumps(patch)}", "-o", "json")
    )
    return wait_ready(target, int(changed["metadata"]["generation"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rollout", description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["stage", "promote", "rollback", "example"])
    parser.add_argument("service")
    parser.add_argument("--namespace", default="shop")
    parser.add_argument("--image", help="stage, example: the green revision's image")
    args = parser.parse_args(argv)
    if args.step in {"stage", "example"} and not args.image:
        parser.error(f"{args.step} needs --image (a new template makes the green revision)")
    if args.step == "example":
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            body = example(args.service, args.image, Path(folder))
        sys.stdout.write(yaml.safe_dump(body, sort_keys=False))
        return 0
    target = ["ksvc", args.service, "-n", args.namespace]
    current = service(args.service, args.namespace)
    if args.step == "stage":
        staged = apply(target, stage_patch(current, args.image))
        apply(target, pin_patch(staged))
    else:
        apply(target, shift_patch(current, 100 if args.step == "rollback" else 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
