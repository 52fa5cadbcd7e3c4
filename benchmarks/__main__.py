"""`python -m benchmarks [NAME ...]`: run the benchmarks (all by default), then write BENCHMARKS.md.

A benchmark is a module `benchmarks/bench_NAME.py` with `def run() -> Section`.
"""

from __future__ import annotations

import importlib
import sys

from benchmarks.report import ROOT, write_report


def main(argv: list[str]) -> int:
    available = sorted(
        p.stem.removeprefix("bench_") for p in (ROOT / "benchmarks").glob("bench_*.py")
    )
    chosen = argv or available
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(available)}")
        return 2
    for name in chosen:
        print(f"== {name}", flush=True)
        section = importlib.import_module(f"benchmarks.bench_{name}").run()
        print(section.markdown(), flush=True)
        section.save()
    write_report()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
