"""The lean client's pools: one `Origin` per upstream base URL, bounded together.

Why a lean client next to httpx (the general one): the gateway's proxy and orders -> products
are the hot paths. They need a status line, raw headers and a body, with a timeout on each
wait; a general client spends most of their CPU per call on what they never use (cookie jars,
URL objects, header multidicts, decompression, per-request timer contexts). The gateway
benchmark measures both side by side (`benchmarks/bench_gateway.py`, "Upstream clients").

Bounds: at most `max_idle` idle connections per origin, at most `max_connections` open ones
in all (at the limit the longest idle one anywhere closes first, else a new call waits up to
its connect timeout, then is refused: it never reached the upstream). An origin that left the
registry is forgotten (`forget`, `retain`): its idle connections close at once, the ones in use
when released.
"""

from __future__ import annotations

from collections.abc import Iterable

from shop.http.origins import Limit, Origin, origin_key, split


class Pools:
    def __init__(
        self, *, connect_timeout: float = 2.0, max_idle: int = 10, max_connections: int = 100
    ) -> None:
        self.connect_timeout = connect_timeout
        self.max_idle = max_idle
        self.limit = Limit(max_connections, self._evict)
        self._origins: dict[str, tuple[Origin, str]] = {}

    def origin(self, base: str) -> tuple[Origin, str]:
        """The pool for `base` (scheme://authority[/prefix]) and the path prefix it carries."""
        found = self._origins.get(base)
        if found is None:
            root, prefix = split(base)
            scheme, host, port = origin_key(root)
            origin = Origin(
                scheme,
                host,
                port,
                self.connect_timeout,
                max_idle=self.max_idle,
                limit=self.limit,
            )
            found = self._origins[base] = (origin, prefix)
        return found

    def known(self) -> list[str]:
        return list(self._origins)

    def forget(self, base: str) -> None:
        """`base` left the registry: drop its pool."""
        found = self._origins.pop(base, None)
        if found is not None:
            found[0].close()

    def retain(self, live: Iterable[str]) -> None:
        """Forget every base not in `live`."""
        keep = set(live)
        for base in [b for b in self._origins if b not in keep]:
            self.forget(base)

    def close(self) -> None:
        for origin, _ in self._origins.values():
            origin.close()
        self._origins.clear()

    def _evict(self) -> bool:
        oldest: Origin | None = None
        for origin, _ in self._origins.values():
            if origin.idle and (oldest is None or origin.idle[0].used < oldest.idle[0].used):
                oldest = origin
        return oldest is not None and oldest.evict_oldest()
