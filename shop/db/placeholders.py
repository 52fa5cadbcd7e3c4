"""Parameter markers for statements over a list of values, in the port's `$n` style."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=256)
def listed(count: int, *, start: int = 1) -> str:
    """`$start, ..., $(start + count - 1)`: the markers of an `IN (...)` list."""
    return ", ".join(f"${n}" for n in range(start, start + count))


@functools.lru_cache(maxsize=256)
def rows(width: int, count: int) -> str:
    """`($1, $2), ($3, $4)` for `count` rows of `width` parameters: a multi-row `VALUES`."""
    return ", ".join(f"({listed(width, start=row * width + 1)})" for row in range(count))
