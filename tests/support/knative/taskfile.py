"""What the Taskfile's tasks merge into Knative's ConfigMaps (`kubectl patch configmap/...`)."""

from __future__ import annotations

import json
import re

import yaml

from tests.support.processes import ROOT

PATCH = re.compile(r"configmap/(\S+) -n knative-serving --type merge\s+-p '(.+)'")


def configmap_patches(task: str) -> list[tuple[str, str, str]]:
    """(ConfigMap, key, value) for every ConfigMap patch command of `task`."""
    commands = yaml.safe_load(ROOT.joinpath("Taskfile.yml").read_text())["tasks"][task]["cmds"]
    found = []
    for command in commands:
        match = PATCH.search(command) if isinstance(command, str) else None
        if match:
            for key, value in json.loads(match.group(2))["data"].items():
                found.append((match.group(1), key, str(value)))
    return found
