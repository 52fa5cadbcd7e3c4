"""What the code itself says, read from its source: the environment variables it reads and the
string constants it holds. The manifests are checked against this, so a setting added to the
code is checked without anyone updating a list."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import ROOT

PACKAGES = ("shop", "functions", "gateway", "devtools")
PARSERS = {"env_str", "env_int", "env_float", "env_bool"}
ENVIRON_NAMES = {"environ", "env", "os.environ"}


@dataclass(frozen=True)
class EnvRead:
    """One place the code reads an environment variable. `pattern` is a regex for names built
    at run time (f"{name.upper()}_URL"); `required` when nothing stands in for it if unset."""

    name: str
    pattern: re.Pattern[str] | None
    required: bool
    where: str

    def matches(self, name: str) -> bool:
        return self.pattern.fullmatch(name) is not None if self.pattern else name == self.name


def sources(packages: tuple[str, ...] = PACKAGES) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def env_reads(packages: tuple[str, ...] = PACKAGES) -> list[EnvRead]:
    found = []
    for path in sources(packages):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            read = _env_read(node, f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}")
            if read is not None:
                found.append(read)
    return found


def _env_read(node: ast.AST, where: str) -> EnvRead | None:
    if isinstance(node, ast.Call):
        function = ast.unparse(node.func)
        if function.split(".")[-1] in PARSERS and len(node.args) >= 2:
            has_default = len(node.args) >= 3 or any(k.arg == "default" for k in node.keywords)
            return _named(node.args[1], not has_default, where)
        if function.endswith(".get") and function.removesuffix(".get") in ENVIRON_NAMES:
            # .get(NAME) answers None when unset: the code handles its absence.
            return _named(node.args[0], False, where) if node.args else None
        if function in {"os.getenv", "getenv"} and node.args:
            return _named(node.args[0], False, where)
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.ctx, ast.Load)
        and ast.unparse(node.value) in ENVIRON_NAMES
    ):
        return _named(node.slice, True, where)
    return None


def _named(node: ast.expr, required: bool, where: str) -> EnvRead | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if node.value.isupper() or "_" in node.value:
            return EnvRead(node.value, None, required, where)
        return None
    if isinstance(node, ast.JoinedStr):
        parts = [
            re.escape(str(v.value)) if isinstance(v, ast.Constant) else "[A-Z0-9_]+"
            for v in node.values
        ]
        pattern = "".join(parts)
        return EnvRead(ast.unparse(node), re.compile(pattern), required, where)
    return None  # a name held in a variable: the parser's own body (env_str's `name`)


def string_constants(packages: tuple[str, ...] = PACKAGES) -> set[str]:
    found: set[str] = set()
    for path in sources(packages):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found
