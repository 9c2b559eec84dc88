"""Counters and histograms in the Prometheus text format (version 0.0.4), without a dependency.

A `Histogram` is plain data that crosses a process boundary as JSON (the scheduler child
reports its figures to the server that way) and adds up (a restarted child's figures are
added to its predecessors'). `render` writes the exposition text.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Seconds: from 0.5 ms (a small SQLite transaction) to 10 s (a request stuck on a lock).
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    10.0,
)


@dataclass
class Histogram:
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)  # per bucket, not cumulative; +Inf last
    total: float = 0.0
    count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.buckets) + 1:
            self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        i = bisect.bisect_left(self.buckets, value)
        with self._lock:
            self.counts[i] += 1
            self.total += value
            self.count += 1

    def add(self, other: Histogram) -> Histogram:
        """The sum of both (same buckets), as a new histogram."""
        counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        return Histogram(self.buckets, counts, self.total + other.total, self.count + other.count)

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"buckets": list(self.buckets), "counts": list(self.counts), "sum": self.total}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Histogram:
        counts = [int(c) for c in data["counts"]]
        buckets = tuple(float(b) for b in data["buckets"])
        return cls(buckets, counts, float(data["sum"]), sum(counts))

    def quantile(self, q: float) -> float:
        """The upper bound of the bucket holding the q-quantile (inf past the last bucket)."""
        if not self.count:
            return 0.0
        rank, seen = q * self.count, 0
        for bound, n in zip([*self.buckets, math.inf], self.counts, strict=True):
            seen += n
            if seen >= rank:
                return bound
        return math.inf


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


class Exposition:
    """Builds the text of one scrape: each family's HELP and TYPE once, then its samples."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, labels: dict[str, str] | None = None) -> None:
        self._lines.append(f"{name}{_labels(labels or {})} {_number(value)}")

    def scalar(self, name: str, kind: str, help_text: str, value: float) -> None:
        self.family(name, kind, help_text)
        self.sample(name, value)

    def histograms(
        self, name: str, help_text: str, series: Iterable[tuple[dict[str, str], Histogram]]
    ) -> None:
        self.family(name, "histogram", help_text)
        for labels, hist in series:
            data = hist.as_dict()
            cumulative = 0
            for bound, n in zip([*data["buckets"], math.inf], data["counts"], strict=True):
                cumulative += n
                self.sample(f"{name}_bucket", cumulative, {**labels, "le": _number(bound)})
            self.sample(f"{name}_sum", data["sum"], labels)
            self.sample(f"{name}_count", cumulative, labels)

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"
