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


def test_many_workflows_bench_prints_every_measurement(tmp_path: Path) -> None:
    args = ["--many-workflows", "--quick", "--backend", "sqlite", "--dir", str(tmp_path)]
    run = subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("sqlite")]
    for size in ("200 stored", "1,000 stored"):
        for needle in (
            "idle scheduler CPU",
            "fan-out / empty store",
            "list no filter, 20 clients, p99",
            "list no filter, 1 client, p50",
            "list status=failed, 20 clients, p99",
            "2,000-node submit -> first start",
        ):
            assert any(f"{size}: {needle}" in row for row in rows), (size, needle)
    checked = [row for row in rows if row.rstrip().endswith(("PASS", "MISS"))]
    assert len(checked) == 2 * 6, rows  # per size: CPU, ratio, 3 lists, first start
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
@pytest.mark.slow
def test_watchers_bench_runs_on_a_real_server_and_loses_no_event(tmp_path: Path) -> None:
    _pg_or_skip()
    command = ["--watchers", "--quick", "--watch-tasks", "40", "--dir", str(tmp_path)]
    run = subprocess.run(
        [sys.executable, "-m", "bench", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    for backend in ("sqlite", "postgres"):
        rows = [line for line in run.stdout.splitlines() if line.startswith(backend)]
        for needle in ("0 watchers: throughput", "100 both: GET summary p50 / p99"):
            assert any(needle in row for row in rows), (backend, needle)
        lost = [row for row in rows if "events lost" in row]
        assert len(lost) == 2 and all(row.rstrip().endswith("PASS") for row in lost), lost
        assert any("500 sse: API process peak RSS" in row for row in rows)


@pytest.mark.postgres
def test_quick_submit_latency_bench_prints_every_phase(tmp_path: Path) -> None:
    """`python -m bench --submit-latency --quick`: a real server, probed during a submit."""
    _pg_or_skip()
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--submit-latency", "--quick", "--dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    for backend in ("sqlite", "postgres"):
        rows = [line for line in run.stdout.splitlines() if line.startswith(backend)]
        assert any("during start: API p99" in row for row in rows), rows
        assert any("during start: answers not 2xx" in row for row in rows), rows
        assert any("submit request" in row for row in rows), rows
    assert list(tmp_path.iterdir()) == []
