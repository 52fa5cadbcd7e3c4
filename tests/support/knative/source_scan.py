"""The string constants the code holds, read from its source: the manifests' event types and
sources are checked against them. (The settings it reads come from the settings schema.)"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support.processes import ROOT

PACKAGES = ("shop", "functions", "gateway", "devtools")


def sources(packages: tuple[str, ...] = PACKAGES) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def string_constants(packages: tuple[str, ...] = PACKAGES) -> set[str]:
    found: set[str] = set()
    for path in sources(packages):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found
