"""1. Throughput of trivial tasks (`true`) through the engine, against a floor run in the same
process right before each engine run (plain thread pool + the same processes + two SQLite
commits per task)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from .common import Report, cpu_slots, database, log, median
from .dags import Dag, chain, chains, fan_out, run_engine, true_command
from .floor import run_floor

TARGET_RATIO = 0.80


def shapes(quick: bool) -> list[Dag]:
    if quick:
        return [fan_out(50), chain(20), chains(4, 5)]
    return [fan_out(500), chain(200), chains(20, 25)]


def file_creation(report: Report, work: Path, count: int = 200) -> None:
    """What creating one file costs in the scratch directory, median: every attempt creates
    its log file (the floor creates none), and on this VM it ranges from 10 us (tmpfs) to
    ~800 us of kernel time (disk, by the minute)."""
    folder = work / "file-creation"
    folder.mkdir()
    costs = []
    for i in range(count):
        began = time.perf_counter()
        os.close(os.open(folder / f"{i}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666))
        costs.append(time.perf_counter() - began)
    shutil.rmtree(folder, ignore_errors=True)
    cost = median(costs) * 1e6
    report.info("any", "1 throughput", "creating a file in the scratch directory", f"{cost:.0f} us")


def measure(report: Report, backend: str, work: Path, quick: bool, repeats: int) -> None:
    """Per shape, `repeats` pairs of runs, the floor right before the engine: both medians
    come from the same minutes. (This VM's speed drifts by 10-20% over a minute; a floor
    measured once at the start made the ratio drift with it.)"""
    slots = cpu_slots()
    section = f"1 throughput (slots={slots})"
    for dag in shapes(quick):
        engine_times, floor_times, own_floor_times = [], [], []
        for i in range(repeats):
            floor_times.append(run_floor(dag, slots, work))
            with database(backend, work) as url:
                if backend == "postgres":  # the same floor committing to PostgreSQL
                    libpq = url.replace("postgresql+psycopg://", "postgresql://")
                    own_floor_times.append(run_floor(dag, slots, work, postgres=libpq))
            with database(backend, work) as url:
                data_dir = work / f"data-{backend}-tp-{len(dag.names)}-{i}"
                run = run_engine(url, data_dir, dag, true_command, slots)
                engine_times.append(run.seconds)
        n = len(dag.names)
        rate = n / median(engine_times)
        floor = n / median(floor_times)
        ratio = rate / floor
        log(f"{backend} {dag.label}: {rate:.0f} tasks/s = {ratio:.0%} of floor {floor:.0f}")
        report.info(backend, section, f"{dag.label}: engine", f"{rate:.0f} tasks/s")
        report.info(backend, section, f"{dag.label}: floor", f"{floor:.0f} tasks/s")
        if own_floor_times:
            own = n / median(own_floor_times)
            label = f"{dag.label}: floor with PostgreSQL commits"
            report.info(backend, section, label, f"{own:.0f} tasks/s ({own / floor:.0%})")
        report.check(
            backend,
            section,
            f"{dag.label}: engine / floor",
            f"{ratio:.0%}",
            f">= {TARGET_RATIO:.0%}",
            ratio >= TARGET_RATIO,
        )
