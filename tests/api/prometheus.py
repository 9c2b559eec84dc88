"""A strict reader of the Prometheus text format (0.0.4), for tests: no dependency needed."""

from __future__ import annotations

import math
import re

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[dict[str, str], Samples]:
    """(type per family, value per (name, labels)); AssertionError on anything malformed."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    samples: Samples = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types, f"TYPE twice: {name}"
            types[name] = kind
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample: {line!r}"
        name, _, body, value = match.groups()
        labels: list[tuple[str, str]] = []
        rest = body or ""
        while rest:
            found = _LABEL.match(rest)
            assert found, f"bad labels: {line!r}"
            labels.append((found.group(1), found.group(2)))
            rest = rest[found.end() :]
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or (family in types and types[family] == "histogram"), line
        number = float(value.replace("+Inf", "inf"))
        assert not math.isnan(number), line
        key = (name, frozenset(labels))
        assert key not in samples, f"sample twice: {line!r}"
        samples[key] = number
    for family, kind in types.items():
        if kind == "histogram":
            _check_histogram(family, samples)
    return types, samples


def _check_histogram(family: str, samples: Samples) -> None:
    series: dict[frozenset[tuple[str, str]], list[tuple[float, float]]] = {}
    for (name, labels), value in samples.items():
        if name == f"{family}_bucket":
            le = dict(labels)["le"]
            rest = frozenset(item for item in labels if item[0] != "le")
            series.setdefault(rest, []).append((float(le.replace("+Inf", "inf")), value))
    for labels, buckets in series.items():
        buckets.sort()
        counts = [n for _, n in buckets]
        assert counts == sorted(counts), f"{family}: buckets not cumulative"
        assert buckets[-1][0] == math.inf
        assert samples[(f"{family}_count", labels)] == counts[-1]
        assert (f"{family}_sum", labels) in samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]
