"""Counter and histogram families kept in plain numbers, written out at scrape time.

prometheus-client takes a lock for every update (two for a histogram observation). A service
updates its metrics from its one event-loop thread, so the per-request series (the HTTP
metrics, the gateway's upstream calls) are plain lists of numbers here, updated without locks,
and a collector hands them to prometheus-client at each scrape: the same names, labels and
text format as its own `Counter` and `Histogram`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

Cells = list[float]


class Tally(Collector):
    """A counter family. `series(labels)` is a one-cell list: `cells[0] += 1` counts."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry
    ) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, list(labelnames)
        self._series: dict[tuple[str, ...], Cells] = {}
        registry.register(self)

    def series(self, *labels: str) -> Cells:
        cells = self._series.get(labels)
        if cells is None:
            cells = self._series[labels] = [0.0]
        return cells

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, cells in list(self._series.items()):
            family.add_metric(list(labels), cells[0])
        yield family


class Buckets(Collector):
    """A histogram family. `series(labels)` holds a count per bucket, then the sum;
    `observe(cells, value)` records one value in them."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry,
        buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS,
    ) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, list(labelnames)
        bounds = [float(b) for b in buckets]
        if bounds[-1] != float("inf"):
            bounds.append(float("inf"))
        self.bounds = bounds
        self._les = [floatToGoString(b) for b in bounds]  # type: ignore[no-untyped-call]
        self._series: dict[tuple[str, ...], Cells] = {}
        registry.register(self)

    def series(self, *labels: str) -> Cells:
        cells = self._series.get(labels)
        if cells is None:
            cells = self._series[labels] = [0.0] * (len(self.bounds) + 1)
        return cells

    def observe(self, cells: Cells, value: float) -> None:
        cells[bisect_left(self.bounds, value)] += 1  # the first bucket whose bound >= value
        cells[-1] += value

    def describe(self) -> Iterator[Metric]:
        yield HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, cells in list(self._series.items()):
            cumulative, buckets = 0.0, []
            for le, count in zip(self._les, cells, strict=False):
                cumulative += count
                buckets.append((le, cumulative))
            family.add_metric(list(labels), buckets, cells[-1])
        yield family
