"""Refresh the pins: compile requirements.lock, then mirror its pins into pyproject.toml.

`requirements.lock` (name==version with hashes, no download addresses) is the source of truth.
`uv run` resolves through `[tool.uv] constraint-dependencies`, so it installs exactly these pins.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"
BLOCK = re.compile(r"constraint-dependencies = \[.*?\]", re.DOTALL)
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\],]+==[^\s\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


def compile_lock() -> None:
    subprocess.run(
        [
            "uv",
            "pip",
            "compile",
            "pyproject.toml",
            "--group",
            "dev",
            "--universal",
            "--python-version",
            "3.11",
            "--generate-hashes",
            "--no-header",
            "--quiet",
            "--output-file",
            str(LOCK.name),
        ],
        cwd=ROOT,
        check=True,
    )


def pins(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        match = PIN.match(line.strip())
        if match:
            name, marker = match.groups()
            found.append(f"{name} ; {marker.strip()}" if marker else name)
    return found


def constraint_block(lines: list[str]) -> str:
    body = "".join(f'    "{line}",\n' for line in lines)
    return f"constraint-dependencies = [\n{body}]"


def main() -> int:
    if "--check" not in sys.argv:
        compile_lock()
    wanted = constraint_block(pins(LOCK.read_text()))
    current = PYPROJECT.read_text()
    updated = BLOCK.sub(lambda _: wanted, current, count=1)
    if "--check" in sys.argv:
        if updated != current:
            print(
                "pyproject.toml's constraint-dependencies differ from requirements.lock:"
                " run `task lock`"
            )
            return 1
        return 0
    PYPROJECT.write_text(updated)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
