"""DAG shapes, and running one DAG through the real engine (Store + Scheduler + LocalExecutor)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stormflow.core import Status, WorkflowStatus
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.spec import PlannedNode
from stormflow.store import Store


@dataclass(frozen=True)
class Dag:
    label: str
    names: list[str]
    edges: list[tuple[str, str]]


def fan_out(width: int) -> Dag:
    mids = [f"m{i:04d}" for i in range(width)]
    edges = [("root", m) for m in mids] + [(m, "sink") for m in mids]
    return Dag(f"fan-out 1->{width}->1", ["root", *mids, "sink"], edges)


def chain(length: int, prefix: str = "n") -> Dag:
    names = [f"{prefix}{i:04d}" for i in range(length)]
    return Dag(f"chain of {length}", names, list(itertools.pairwise(names)))


def chains(count: int, length: int) -> Dag:
    names: list[str] = []
    edges: list[tuple[str, str]] = []
    for c in range(count):
        part = chain(length, prefix=f"c{c:02d}_")
        names += part.names
        edges += part.edges
    return Dag(f"{count} chains of {length}", names, edges)


Command = list[str] | str


def planned(dag: Dag, command: Callable[[str], list[Command]]) -> list[PlannedNode]:
    return [
        PlannedNode(name, "task", Status.OPEN, {"commands": command(name)}) for name in dag.names
    ]


@dataclass
class EngineRun:
    workflow_id: str
    seconds: float  # scheduler start -> workflow succeeded
    dispatch_latency: list[float]  # the scheduler's own stats (ready -> submitted)
    store: Store


def run_engine(
    url: str,
    data_dir: Path,
    dag: Dag,
    command: Callable[[str], list[Command]],
    slots: int,
    *,
    keep_store: bool = False,
) -> EngineRun:
    """Submit the DAG and run it to completion with a Scheduler and the local executor."""
    store = Store(url)
    wf = store.submit(
        planned(dag, command),
        dag.edges,
        name="bench",
        metadata={"bench": dag.label},
        actor="bench",
        at=time.time(),
    )
    settings = Settings(data_dir=data_dir, workflows={wf})
    scheduler = Scheduler(store, settings, slots=slots)

    def done() -> bool:
        return store.status(wf) is not WorkflowStatus.RUNNING

    began = time.perf_counter()
    try:
        scheduler.run_until(done)
        seconds = time.perf_counter() - began
    finally:
        scheduler.close(grace=1.0)
    counts = store.counts(wf)
    if counts != {Status.SUCCEEDED: len(dag.names)}:
        raise RuntimeError(f"{dag.label}: workflow did not succeed: {counts}")
    run = EngineRun(wf, seconds, list(scheduler.stats.dispatch_latency), store)
    if not keep_store:
        store.close()
    return run


def true_command(_name: str) -> list[Any]:
    return [["true"]]
