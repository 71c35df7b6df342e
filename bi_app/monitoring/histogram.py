"""A fixed, bounded latency histogram: geometric buckets 10 % wide from 0.1 ms to ~2 min.

Memory per series is bounded by the bucket count whatever the traffic, histograms from several
workers or minutes merge exactly (add the counts), and percentiles are accurate to one bucket
(≤ 10 % relative) — the trade-off the minute aggregator needs instead of unbounded sample lists.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MIN_MS = 0.1
GROWTH = 1.1
BUCKET_COUNT = 150
# EDGES[i] is the upper bound of bucket i; bucket BUCKET_COUNT holds everything above the last edge.
EDGES: tuple[float, ...] = tuple(MIN_MS * GROWTH**i for i in range(BUCKET_COUNT))


def _bucket_bounds(index: int) -> tuple[float, float]:
    low = 0.0 if index == 0 else EDGES[index - 1]
    high = EDGES[index] if index < BUCKET_COUNT else EDGES[-1] * GROWTH
    return low, high


@dataclass
class Histogram:
    """Sparse bucket counts plus exact count, sum, min and max."""

    counts: dict[int, int] = field(default_factory=dict)
    count: int = 0
    sum_ms: float = 0.0
    min_ms: float = math.inf
    max_ms: float = 0.0

    def add(self, value_ms: float) -> None:
        value_ms = max(0.0, value_ms)
        index = bisect.bisect_left(EDGES, value_ms)
        self.counts[index] = self.counts.get(index, 0) + 1
        self.count += 1
        self.sum_ms += value_ms
        self.min_ms = min(self.min_ms, value_ms)
        self.max_ms = max(self.max_ms, value_ms)

    def merge(self, other: Histogram) -> None:
        for index, n in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + n
        self.count += other.count
        self.sum_ms += other.sum_ms
        self.min_ms = min(self.min_ms, other.min_ms)
        self.max_ms = max(self.max_ms, other.max_ms)

    def percentile(self, q: float) -> float:
        """The q-th percentile (0–100), interpolated inside its bucket and clamped to [min, max]."""
        if self.count == 0:
            return 0.0
        rank = q / 100.0 * self.count
        seen = 0
        for index in sorted(self.counts):
            n = self.counts[index]
            if seen + n >= rank:
                low, high = _bucket_bounds(index)
                fraction = (rank - seen) / n if n else 0.0
                value = low + (high - low) * fraction
                return min(max(value, self.min_ms), self.max_ms)
            seen += n
        return self.max_ms

    def to_json(self) -> dict[str, int]:
        return {str(i): n for i, n in self.counts.items()}

    @classmethod
    def from_row(
        cls,
        buckets: Mapping[str, int] | None,
        count: int,
        sum_ms: float,
        max_ms: float,
        min_ms: float | None = None,
    ) -> Histogram:
        """Rebuild from a stored row; min is not stored, so the lowest bucket's bound stands in."""
        counts = {int(k): int(v) for k, v in (buckets or {}).items()}
        if min_ms is None:
            min_ms = _bucket_bounds(min(counts))[0] if counts else math.inf
        return cls(counts, int(count), float(sum_ms), float(min_ms), float(max_ms))


def merged(histograms: Iterable[Histogram]) -> Histogram:
    total = Histogram()
    for h in histograms:
        total.merge(h)
    return total
