"""`python -m bench --quick` runs end to end on both backends and prints every measurement
with its target (figures are not checked: timings belong in bench/, not in assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import _pg_or_skip

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.postgres
def test_quick_bench_prints_every_measurement(tmp_path: Path) -> None:
    _pg_or_skip()  # both backends; under CI=true a missing PostgreSQL fails here
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--no-tracemalloc", "--dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    table = run.stdout
    for backend in ("sqlite", "postgres"):
        rows = [line for line in table.splitlines() if line.startswith(backend)]
        for needle in (
            "fan-out 1->50->1: engine / floor",
            "chain of 20: engine / floor",
            "success recorded -> process start p50",
            "hold one leaf, median",
            "retry sim, cascade to 2000 nodes",
        ):
            assert any(needle in row for row in rows), (backend, needle)
        # every checked row says PASS or MISS, never a broken measurement
        checked = [row for row in rows if row.rstrip().endswith(("PASS", "MISS"))]
        assert len(checked) >= 6, rows
    assert "floor with PostgreSQL commits" in table
    assert "creating a file in the scratch directory" in table
    assert "supervisor CPU per task" in table
    assert list(tmp_path.iterdir()) == []  # scratch data removed afterwards
