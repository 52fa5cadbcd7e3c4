"""Blue-green for one Knative Service with traffic tags (`task rollout:blue-green`).

    python tools/rollout.py stage orders --image REGISTRY/shop/orders:0.2.0 [--revision v2]
    python tools/rollout.py promote orders
    python tools/rollout.py rollback orders

stage: the serving revision becomes `blue` (100%); a new revision named `<service>-<revision>`
is created as `green` at 0%, reachable at its tag URL (green-<service>.<namespace>...) for
testing. promote: all traffic to green, blue stays tagged for a rollback. rollback: all back.
Each step is one JSON patch of the Service, applied with kubectl.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any


def service(name: str, namespace: str) -> dict[str, Any]:
    out = subprocess.run(
        ["kubectl", "get", "ksvc", name, "-n", namespace, "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found: dict[str, Any] = json.loads(out)
    return found


def stage_patch(
    current: dict[str, Any], image: str | None, revision: str | None
) -> list[dict[str, Any]]:
    name = current["metadata"]["name"]
    serving = [t for t in current.get("status", {}).get("traffic", []) if t.get("percent")]
    blue = max(serving, key=lambda t: t["percent"])["revisionName"] if serving else None
    blue = blue or current["status"]["latestReadyRevisionName"]
    green = f"{name}-{revision or time.strftime('%Y%m%d%H%M%S', time.gmtime())}"
    patch: list[dict[str, Any]] = [
        {"op": "add", "path": "/spec/template/metadata/name", "value": green},
        {"op": "add", "path": "/spec/traffic", "value": traffic(blue, green, 100)},
    ]
    if image:
        patch.insert(
            0, {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}
        )
    return patch


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rollout", description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["stage", "promote", "rollback"])
    parser.add_argument("service")
    parser.add_argument("--namespace", default="shop")
    parser.add_argument("--image", help="stage: the green revision's image")
    parser.add_argument("--revision", help="stage: the green revision's suffix (default: time)")
    args = parser.parse_args(argv)
    current = service(args.service, args.namespace)
    if args.step == "stage":
        patch = stage_patch(current, args.image, args.revision)
    else:
        patch = shift_patch(current, 100 if args.step == "rollback" else 0)
    target = ["ksvc", args.service, "-n", args.namespace]
    subprocess.run(
        ["kubectl", "patch", *target, "--type=json", f"-p={json.dumps(patch)}"], check=True
    )
    subprocess.run(
        ["kubectl", "wait", *target, "--for=condition=Ready", "--timeout=300s"], check=True
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
