"""A 20,000-node fan-out: submit, run everything, then a retry of the root cascades to all."""

from __future__ import annotations

import time

from stormflow import core
from stormflow.core import GraphView, Outcome, Status
from stormflow.store import Store

from .helpers import submit

FAN = 20_000


def _merged(action: str, at: float, parts: list[Outcome]) -> Outcome:
    """Independent procedural outcomes on different nodes, persisted as one."""
    out = Outcome(action=action, actor="engine", at=at)
    for part in parts:
        out.nodes.update(part.nodes)
        out.changes.extend(part.changes)
        out.events.extend(part.events)
        out.start.extend(part.start)
    return out


def test_fan_out_cascade(store: Store) -> None:
    children = [f"c{i:05d}" for i in range(FAN)]
    clock = time.perf_counter()
    wf = submit(store, ["root", *children], [("root", c) for c in children])
    timings = {"submit": time.perf_counter() - clock}

    run = store.transact(wf, lambda v: core.run(v, "root", at=2.0)).outcome
    assert run is not None
    token = run.start[0][1].token
    store.transact(wf, lambda v: core.succeed(v, "root", token, at=3.0))

    def run_all(view: GraphView) -> Outcome:
        view.downstream("root")  # the children are read as one batch, as in a cascade
        return _merged("run", 4.0, [core.run(view, c, at=4.0) for c in children])

    clock = time.perf_counter()
    store.transact(wf, run_all)
    timings["run all"] = time.perf_counter() - clock

    def succeed_all(view: GraphView) -> Outcome:
        view.downstream("root")
        parts = [core.succeed(view, c, f"{c}#1", at=5.0) for c in children]
        return _merged("succeed", 5.0, parts)

    clock = time.perf_counter()
    store.transact(wf, succeed_all)
    timings["succeed all"] = time.perf_counter() - clock
    assert store.counts(wf) == {Status.SUCCEEDED: FAN + 1}
    assert store.status(wf) == "succeeded"

    clock = time.perf_counter()
    applied = store.transact(wf, lambda v: core.retry(v, ["root"], at=6.0, actor="ann"))
    timings["retry root (cascade)"] = time.perf_counter() - clock
    assert applied.response["counts"]["cascaded"] == FAN
    assert len(applied.response["cascaded"]) == 1000 and applied.response["truncated"]
    assert applied.outcome is not None and len(applied.outcome.cascaded) == FAN
    assert store.counts(wf) == {Status.OPEN: FAN + 1}
    assert store.runnable_nodes(wf) == ["root"]
    assert store.status(wf) == "running" and store.workflows_with_work() == [wf]
    [snap] = store.snapshots(wf, "c12345")
    assert (snap.why, snap.caused_by, snap.status) == ("cascade", "root", Status.SUCCEEDED)
    assert [(a.token, a.result) for a in snap.attempts] == [("c12345#1", "succeeded")]
    assert store.node(wf, "c12345").attempts == ()
    assert applied.last_seq is not None and applied.last_seq == 1 + 2 + FAN + FAN + FAN + 1
    print(
        f"\n{store.dialect} fan-out {FAN}: "
        + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
    )
