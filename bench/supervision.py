"""Where local commands are spawned: in the scheduler's process, or by the supervisor.

A fan-out of `true` tasks on SQLite (2 slots), alternating in-process (`supervised=False`) and
supervised runs: tasks/s (median), CPU of the scheduler's process per task (os.times) and CPU of
the supervisor per task (/proc/<pid>/stat). The supervisor takes fork/exec and the waits out of
the scheduler's interpreter; what it costs itself is shown beside it.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from stormflow.core import Status, WorkflowStatus
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.store import Store

from .common import Report, log

SECTION = "4 spawning (fan-out of `true`, slots=2)"


def _supervisor_cpu(data_dir: Path) -> float:
    """CPU seconds used so far by the supervisor of `data_dir` (0 when there is none)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"stormflow.engine.supervisor" not in argv or os.fsencode(data_dir) not in argv:
                continue
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def _run(work: Path, supervised: bool, width: int, tag: str) -> tuple[float, float, float]:
    """(tasks/s, scheduler CPU ms per task, supervisor CPU ms per task)."""
    root = work / f"spawn-{tag}"
    data = root / "data"
    data.mkdir(parents=True)
    store = Store(f"sqlite:///{root}/storm.db")
    names = ["root", *(f"n{i}" for i in range(width))]
    wf = _submit(store, names, [("root", n) for n in names[1:]])
    scheduler = Scheduler(
        store, Settings(data_dir=data, workflows={wf}, supervised=supervised), slots=2
    )
    supervisor_before = _supervisor_cpu(data)
    cpu_before = os.times()
    began = time.perf_counter()
    try:
        scheduler.run_until(lambda: store.status(wf) is not WorkflowStatus.RUNNING)
        seconds = time.perf_counter() - began
        cpu_after = os.times()
        supervisor = _supervisor_cpu(data) - supervisor_before
    finally:
        scheduler.close(grace=1.0)
    if store.counts(wf) != {Status.SUCCEEDED: len(names)}:
        raise RuntimeError(f"spawn bench: workflow did not succeed: {store.counts(wf)}")
    store.close()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    count = len(names)
    return count / seconds, cpu * 1000 / count, supervisor * 1000 / count


def _submit(store: Store, names: list[str], edges: list[tuple[str, str]]) -> str:
    from stormflow.spec import expand

    document = {
        "schema": 1,
        "name": "spawn",
        "nodes": [{"name": n, "kind": "task", "commands": [["true"]]} for n in names],
        "edges": [list(e) for e in edges],
    }
    plan = expand(document)
    return store.submit(
        plan.nodes, plan.edges, name=plan.name, metadata={}, actor="bench", at=time.time()
    )


def measure(report: Report, work: Path, quick: bool) -> None:
    width = 100 if quick else 500
    repeats = 1 if quick else 3
    runs: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
    for repeat in range(repeats):
        for supervised in (False, True):
            tag = f"{'sup' if supervised else 'inproc'}-{repeat}"
            runs[supervised].append(_run(work, supervised, width, tag))
    for supervised, label in ((False, "in the scheduler's process"), (True, "by the supervisor")):
        rates, cpus, sups = zip(*runs[supervised], strict=True)
        rate, cpu, sup = (statistics.median(x) for x in (rates, cpus, sups))
        log(f"spawning {label}: {rate:.0f} tasks/s, scheduler {cpu:.2f} ms CPU/task")
        report.info("sqlite", SECTION, f"spawned {label}: throughput", f"{rate:.0f} tasks/s")
        report.info("sqlite", SECTION, "  scheduler process CPU per task", f"{cpu:.2f} ms")
        if supervised:
            report.info("sqlite", SECTION, "  supervisor CPU per task", f"{sup:.2f} ms")
