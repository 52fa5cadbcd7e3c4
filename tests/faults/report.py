"""The fault suite's figures as a Markdown table (docs/faults.md, by `task faults`)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.faults.ledger import Figures

RESULTS: list[Figures] = []
REPORT_ENV = "SHOP_FAULTS_REPORT"

HEADER = """# Fault suite figures

Written by `uv run task faults` (the suite in `tests/faults/`, which `uv run task test` runs
too). Each row is one fault injected into a real `shop up` under a bounded order load through
the gateway (loopback only): clients that retry with their Idempotency-Key as each Retry-After
says (in the event-path rows every fifth order is cancelled too). After each fault the
databases are reconciled: stock conserved (initial = shelf + held + sold), one confirmed or
cancelled order per key and none lost, no hold past its expiry, each confirmed or cancelled
order's events in the inbox exactly once (or, not delivered, in a dead letter waiting for its
replay), every dead letter one of the shop's events, and every replayed one in the inbox.

- *answers*: HTTP answers by status (`0`: no answer: refused or reset, as while the whole
  stack restarts).
- *own errors*: error answers from the functions that break the contract (a 500).
- *gateway errors*: other error answers that break it: a 502, or a 409/429/503/504 without
  Retry-After or without problem+json.
- The suite asserts both are 0 in every row, and that every request gets an answer unless the
  fault takes the whole stack down (then `0`s are counted, not asserted).
- *log lines*: warnings and errors every instance logged from the fault's start to the end of
  the load (an outage should log its changes of state, not a line per request).
- *recovered in*: from the fault's end to the first order placed by a request sent after it.

The stacks run with the Broker's retry waits a tenth as long as deployed (`BROKER_TIME_SCALE`),
and the dead-letter row on a Broker that retries once after 0.1 s and gives up on an answer
after 1 s (its manifests copied with that `delivery`), so that it makes dead letters in seconds.
Times are wall-clock on the machine that ran it (shared, 2 cores): read them as orders of
magnitude, not as a benchmark.

"""
COLUMNS = (
    "fault",
    "keys",
    "placed",
    "answers",
    "worst latency",
    "recovered in",
    "own errors",
    "gateway errors",
    "log lines",
    "invariants",
)


def row(f: Figures) -> str:
    answers = ", ".join(f"{status}: {n}" for status, n in sorted(f.statuses.items()))
    own, gateway = f.violations()
    recovered = "-" if f.recovered_in is None else f"{f.recovered_in:.1f} s"
    broken = [name for name, problem in f.invariants.items() if problem]
    held = "all hold" if not broken else "broken: " + ", ".join(broken)
    return (
        f"| {f.scenario} | {f.keys} | {f.placed} | {answers} | {f.worst_latency:.1f} s"
        f" | {recovered} | {len(own)} | {len(gateway)} | {f.log_lines} | {held} |"
    )


def write_report() -> None:
    target = os.environ.get(REPORT_ENV)
    if not target or not RESULTS:
        return
    notes = [f"- {f.scenario}: {note}" for f in RESULTS for note in f.notes]
    head = f"| {' | '.join(COLUMNS)} |\n|{'---|' * len(COLUMNS)}\n"
    text = HEADER + head + "\n".join(row(f) for f in RESULTS) + "\n"
    if notes:
        text += "\n" + "\n".join(notes) + "\n"
    Path(target).write_text(text)
