"""Shared pieces of every benchmark: statistics, the machine's description, the report file."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
REPORT = ROOT / "BENCHMARKS.md"


@dataclass(frozen=True)
class Stat:
    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, samples: list[float]) -> Stat:
        return cls(statistics.median(samples), min(samples), max(samples), len(samples))

    def fmt(self, unit: str = "ms", scale: float = 1000.0, digits: int = 1) -> str:
        m, lo, hi = (self.median * scale, self.low * scale, self.high * scale)
        return f"{m:.{digits}f} {unit} ({lo:.{digits}f}–{hi:.{digits}f})"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Section:
    """One benchmark's results: a markdown table plus the verdicts against its targets."""

    name: str
    title: str
    command: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", f"Command: `{self.command}`", ""]
        lines.append("| " + " | ".join(self.headers) + " |")
        lines.append("|" + "---|" * len(self.headers))
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.notes:
            lines.append("")
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def save(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}.md"
        path.write_text(self.markdown())
        return path


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    versions = ", ".join(
        f"{name} {_version(name)}"
        for name in ("litestar", "uvicorn", "msgspec", "redis", "httpx", "prometheus-client")
    )
    redis = _command(["redis-server", "--version"]).split(" v=")[-1].split(" ")[0]
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}){memory}; "
        f"Python {sys.version.split()[0]}; Redis {redis or '?'}; {versions}"
    )


def write_report() -> None:
    sections = sorted(RESULTS.glob("*.md"))
    head = [
        "# Benchmarks",
        "",
        "Every number is measured against a baseline run side by side in the same run, on this",
        "machine. Reproduce them with `uv run task bench` (one: `uv run task bench -- NAME`).",
        "Medians, with min–max in parentheses.",
        "",
        f"- Machine: {machine()}",
        f"- Written: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
    ]
    body = [path.read_text() for path in sections]
    REPORT.write_text("\n".join(head) + "\n" + "\n".join(body))


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def _command(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""
