"""Imports go one way. Each package may import only what stands below it:

    shop.runtime (ground: settings, logs, health, metrics, errors, ...) and shop.money
      <- shop.registry
      <- shop.runtime's instance assembly (core, service, server, entry), which builds
         the registry agent and view for each instance
      <- shop.{db, auth, http}
      <- shop.events
      <- functions, gateway
      <- devtools
      <- benchmarks

and nothing imports tests. Read from the source with `ast`, every import counted, including
those inside functions and under TYPE_CHECKING: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ROOT

ASSEMBLY = {"core", "service", "server", "entry"}
ORDER = [
    "shop.runtime",
    "shop.money",
    "shop.registry",
    "shop.assembly",
    "shop.db",
    "shop.auth",
    "shop.http",
    "shop.events",
    "functions",
    "gateway",
    "devtools",
    "benchmarks",
]
# Same floor: neither may import the other.
PEERS = [{"shop.runtime", "shop.money"}, {"shop.db", "shop.auth", "shop.http"}]
LEVEL = {name: index for index, name in enumerate(ORDER)}
for group in PEERS:
    floor = min(LEVEL[name] for name in group)
    for name in group:
        LEVEL[name] = floor


def layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "shop" and len(parts) > 1:
        if parts[1] == "runtime" and len(parts) > 2 and parts[2] in ASSEMBLY:
            return "shop.assembly"
        name = f"shop.{parts[1]}"
        return name if name in LEVEL else None
    return parts[0] if parts[0] in LEVEL or parts[0] == "tests" else None


def imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for alias in node.names:  # `from shop import telemetry` names a module too
                yield f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def sources() -> list[Path]:
    found: list[Path] = []
    for top in ("shop", "functions", "gateway", "devtools", "benchmarks"):
        found += sorted((ROOT / top).rglob("*.py"))
    return [path for path in found if path != ROOT / "shop" / "__init__.py"]


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_imports_only_what_stands_below_it(path: Path) -> None:
    own = layer(module_of(path))
    assert own is not None
    wrong = set()
    for name in imports(path):
        other = layer(name)
        if other is None or other == own:
            continue
        if other == "tests" or LEVEL[other] >= LEVEL[own]:
            wrong.add(f"{name} ({other})")
    assert not wrong, f"{own} may not import {sorted(wrong)}"


def test_the_gateway_never_imports_a_function() -> None:
    for path in sorted((ROOT / "gateway").rglob("*.py")):
        assert not [n for n in imports(path) if n.split(".")[0] == "functions"], path


def test_the_image_entry_point_imports_nothing_from_devtools() -> None:
    entry = ROOT / "shop" / "runtime" / "entry.py"
    assert not [n for n in imports(entry) if n.startswith("devtools")]
