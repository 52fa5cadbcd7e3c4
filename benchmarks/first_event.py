"""What the first CloudEvent costs a fresh process: the SDK's lazy import plus the first parse,
against a msgspec-only codec (decode + struct, what shop/events/ce.py did before the SDK), each
in its own interpreter with Litestar and msgspec already loaded, as in a function."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from benchmarks.report import ROOT, Stat

RUNS = int(os.environ.get("BENCH_RUNS", "10"))
# Each probe prints CPU seconds (user+system of this process) for: importing shop.events.ce
# (what /ready pays), then the first parse; and, warm, the cost of one more parse.
PROBE = """
import json, sys, time, timeit
import litestar, msgspec
t0 = time.process_time()
from shop.events.ce import CloudEvent, from_http
t1 = time.process_time()
body = msgspec.json.encode({"specversion": "1.0", "id": "1", "source": "/orders",
    "type": "shop.order.confirmed.v1", "time": "2026-01-01T00:00:00Z", "tenant": "eu",
    "data": {"order_id": "o1", "total": {"amount": 900, "currency": "EUR"}}})
headers = {"content-type": "application/cloudevents+json"}
def codec():
    document = msgspec.json.decode(body)
    data = document.pop("data", None)
    context = {k: document.pop(k) for k in ("id", "source", "type", "specversion", "time")}
    return CloudEvent(**context, data=data, extensions=document)
parse = (lambda: from_http(headers, body)) if sys.argv[1] == "sdk" else codec
parse()
t2 = time.process_time()
n = 2000
warm = timeit.timeit(parse, number=n) / n
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "warm": warm}))
"""


def first_events() -> dict[str, dict[str, Stat]]:
    """Per candidate ('sdk', 'msgspec'): Stats of import, first parse and warm parse seconds."""
    samples: dict[str, dict[str, list[float]]] = {
        c: {"import": [], "first": [], "warm": []} for c in ("sdk", "msgspec")
    }
    for _ in range(RUNS):  # interleaved, so drift hits both alike
        for candidate, found in samples.items():
            done = subprocess.run(
                [sys.executable, "-c", PROBE, candidate],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
            result = json.loads(done.stdout)
            for key, values in found.items():
                values.append(result[key])
    return {c: {k: Stat.of(v) for k, v in found.items()} for c, found in samples.items()}
