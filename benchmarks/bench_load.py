"""The shopper mix (benchmarks/locustfile.py) under load, against the same mix with one shopper.

One `shop up` serves both runs, one after the other: first a single shopper with no think time
(the baseline: one request at a time, so each kind of request's latency with the shop otherwise
idle), then BENCH_LOAD_USERS shoppers at the usual pace. The ratio is the loaded median over
the baseline median, per kind of request.
"""

from __future__ import annotations

import csv
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.load import admin_env, local_shop, locust
from benchmarks.report import Section

USERS = int(os.environ.get("BENCH_LOAD_USERS", "20"))
SECONDS = int(os.environ.get("BENCH_LOAD_SECONDS", "30"))
KINDS = {  # report rows -> Locust request names
    "browse (list, next page, product)": ("/products", "/products?cursor", "/products/{id}"),
    "search": ("/products?q",),
    "order": ("/orders",),
    "cancel": ("/orders/{id}/cancel",),
    "sign up + log in": ("/users", "/auth/token"),
    "all requests": ("Aggregated",),
}


@dataclass(frozen=True)
class Row:
    count: int
    failures: int
    p50: float
    p95: float
    rps: float


def measure(host: str, users: int, seconds: int, think: str) -> dict[str, Row]:
    """One Locust run; its stats per request name (POST /orders is "/orders" with method POST)."""
    with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
        prefix = str(Path(folder) / "run")
        command = locust(host, users, max(1.0, users / 5), f"{seconds}s", "--csv", prefix)
        env = {**admin_env(), "LOAD_THINK_SECONDS": think}
        subprocess.run(command, env=env, check=False, capture_output=True)
        with Path(f"{prefix}_stats.csv").open() as handle:
            stats = list(csv.DictReader(handle))
    rows: dict[str, Row] = {}
    for stat in stats:
        if stat["Name"] == "/orders" and stat["Type"] != "POST":
            continue  # the order history, not placing an order
        rows[stat["Name"]] = Row(
            count=int(stat["Request Count"]),
            failures=int(stat["Failure Count"]),
            p50=float(stat["50%"]),
            p95=float(stat["95%"]),
            rps=float(stat["Requests/s"]),
        )
    return rows


def combine(rows: dict[str, Row], names: tuple[str, ...]) -> Row | None:
    found = [rows[name] for name in names if name in rows]
    if not found:
        return None
    count = sum(r.count for r in found)
    return Row(
        count=count,
        failures=sum(r.failures for r in found),
        p50=sum(r.p50 * r.count for r in found) / max(count, 1),  # request-weighted
        p95=max(r.p95 for r in found),
        rps=sum(r.rps for r in found),
    )


def run() -> Section:
    with local_shop() as host:
        baseline = measure(host, 1, SECONDS, think="0,0")
        loaded = measure(host, USERS, SECONDS, think="0.5,2")
    section = Section(
        name="load",
        title=f"Shopper mix: {USERS} shoppers vs one (Locust, {SECONDS} s each, one shop up)",
        command="uv run task bench -- load",
        headers=[
            "requests",
            "1 shopper, no think time: p50 / p95 (n)",
            f"{USERS} shoppers: p50 / p95 (n)",
            "p50 ratio",
            f"req/s at {USERS}",
            "failures",
        ],
    )
    for kind, names in KINDS.items():
        one, many = combine(baseline, names), combine(loaded, names)
        if one is None or many is None:
            continue
        ratio = f"{many.p50 / one.p50:.2f}×" if one.p50 else "-"
        section.rows.append(
            [
                kind,
                f"{one.p50:.0f} / {one.p95:.0f} ms ({one.count})",
                f"{many.p50:.0f} / {many.p95:.0f} ms ({many.count})",
                ratio,
                f"{many.rps:.1f}",
                f"{one.failures + many.failures}",
            ]
        )
    section.notes = [
        "Each shopper signs up, logs in, then browses ≫ searches > orders > cancels "
        "(weights 12 : 4 : 2 : 1, plus 1 for order history and inbox), thinking 0.5–2 s "
        "between tasks (the baseline shopper does not think); orders draw on a deeply "
        "stocked `load` category.",
        "Percentiles are Locust's (approximated); p50 of a group is request-weighted.",
        "Every process (the shop, its Redis and Locust) shares this machine's cores.",
    ]
    return section
