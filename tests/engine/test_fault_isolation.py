"""Fault isolation (issue 11, finding 1): whatever the store holds, a node whose configuration
cannot be rendered or started fails alone, and a failure at any stage of dispatch stays with
its workflow; the scheduler goes on running the others. On SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import update

from stormflow.core import Status, WorkflowStatus
from stormflow.engine.jobs import Job
from stormflow.engine.render import log_path
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.store import Store
from stormflow.store.schema import nodes
from tests.engine.helpers import drive, finished, submit, task

#: Values a person could only have written into the database by hand (the API refuses them).
BAD_VALUES: list[tuple[str, Any]] = [
    ("frames", "1-x"),
    ("commands", 5),
    ("env", 5),
    ("limits", 5),
    ("retries", "many"),
    ("retry_delay", "abc"),
    ("max_seconds", "soon"),
    ("no_such_key", [1, 2, 3]),
]


@pytest.fixture
def scheduler(store: Store, tmp_path: Path) -> Iterator[Scheduler]:
    made = Scheduler(store, Settings(data_dir=tmp_path / "data"), slots=2)
    yield made
    made.close(grace=1.0)


def good_and_bad(store: Store) -> tuple[str, str]:
    """Two workflows: `good` (a chain of 3) and `bad` (victim -> after, plus a bystander)."""
    good = submit(store, [task(n, "true") for n in "xyz"], [("x", "y"), ("y", "z")], name="good")
    bad = submit(
        store,
        [
            task("victim", "echo {start}", frames="1", step=1),
            task("after", "true"),
            task("bystander", "true"),
        ],
        [("victim", "after")],
        name="bad",
    )
    return good, bad


def hand_edit(store: Store, wf: str, name: str, patch: dict[str, Any]) -> None:
    """Write a patch straight into the database, bypassing the API's checks."""
    with store.write() as conn:
        conn.execute(
            update(nodes).where(nodes.c.workflow_id == wf, nodes.c.name == name).values(patch=patch)
        )


def status_of(store: Store, wf: str, name: str) -> Status:
    return store.node(wf, name).status


@pytest.mark.parametrize(("key", "value"), BAD_VALUES, ids=[k for k, _ in BAD_VALUES])
def test_a_hand_edited_node_fails_alone(
    store: Store, scheduler: Scheduler, key: str, value: Any
) -> None:
    good, bad = good_and_bad(store)
    hand_edit(store, bad, "victim", {key: value})
    drive(scheduler, finished(store, good, bad), timeout=30)
    assert store.status(good) is WorkflowStatus.SUCCEEDED
    assert status_of(store, bad, "bystander") is Status.SUCCEEDED
    victim = store.node(bad, "victim")
    if victim.status is Status.FAILED:  # the values a job cannot be made of
        last = victim.attempts[-1]
        assert last.error is not None and "could not start" in last.error, last.error
        assert status_of(store, bad, "after") is Status.OPEN  # never ran
        # a claim that failed never started the attempt: its log is at the usual place
        logfile = last.log or log_path(scheduler.settings.data_dir, bad, last.token)
        assert "could not start" in Path(logfile).read_text()
        failed = [e for e in store.events(bad) if e.type == "fail" and e.node == "victim"]
        assert failed and "could not start" in failed[0].payload["error"]
    else:  # a value the job tolerates (an unknown key, a retry_delay never read)
        assert key in ("no_such_key", "retry_delay", "retries", "max_seconds")
        assert victim.status is Status.SUCCEEDED
    assert scheduler.stats.errors == 0  # a node's bad data is its failure, not the loop's


def test_a_hand_edited_base_fails_alone_too(store: Store, scheduler: Scheduler) -> None:
    good, bad = good_and_bad(store)
    with store.write() as conn:
        conn.execute(
            update(nodes)
            .where(nodes.c.workflow_id == bad, nodes.c.name == "victim")
            .values(base={"commands": 5})
        )
    drive(scheduler, finished(store, good, bad), timeout=30)
    assert store.status(good) is WorkflowStatus.SUCCEEDED
    assert status_of(store, bad, "victim") is Status.FAILED
    assert status_of(store, bad, "bystander") is Status.SUCCEEDED


Fault = Callable[[Scheduler, str, Store], Callable[[], None]]


def fault_spawn(scheduler: Scheduler, bad: str, _store: Store) -> Callable[[], None]:
    """The executor cannot start the process (as when fork fails)."""
    real = scheduler.executor.submit

    def submit_job(job: Job) -> None:
        if job.workflow_id == bad and job.node == "victim":
            raise OSError(11, "Resource temporarily unavailable (fork)")
        real(job)

    scheduler.executor.submit = submit_job  # type: ignore[method-assign]
    return lambda: None


def fault_executor(scheduler: Scheduler, bad: str, _store: Store) -> Callable[[], None]:
    """A bug in the executor's submit."""
    real = scheduler.executor.submit

    def submit_job(job: Job) -> None:
        if job.workflow_id == bad and job.node == "victim":
            raise RuntimeError("executor bug")
        real(job)

    scheduler.executor.submit = submit_job  # type: ignore[method-assign]
    return lambda: None


def fault_render(scheduler: Scheduler, bad: str, _store: Store) -> Callable[[], None]:
    """Rendering the job raises (a plugin's token, a broken kind)."""
    import stormflow.engine.scheduler as module

    real = module.render_job

    def render(**kw: Any) -> Job:
        if kw["workflow_id"] == bad and kw["node"].name == "victim":
            raise KeyError("token")
        return real(**kw)

    module.render_job = render  # type: ignore[assignment]
    return lambda: setattr(module, "render_job", real)


def _failing_transact(
    store: Store, bad: str, error: Callable[[], Exception], times: int
) -> Callable[[], None]:
    real = store.transact
    left = [times]

    def transact(workflow_id: str, fn: Any, **kw: Any) -> Any:
        if workflow_id == bad and left[0] > 0:
            left[0] -= 1
            raise error()
        return real(workflow_id, fn, **kw)

    store.transact = transact  # type: ignore[method-assign]
    return lambda: setattr(store, "transact", real)


def fault_results(scheduler: Scheduler, bad: str, store: Store) -> Callable[[], None]:
    """Applying results to one workflow raises, several times (a bug, bad data)."""
    return _failing_transact(store, bad, lambda: RuntimeError("cannot apply"), times=4)


def fault_store(scheduler: Scheduler, bad: str, store: Store) -> Callable[[], None]:
    """The store is busy for one workflow (lock and pool timeouts)."""
    locked = sqlalchemy.exc.OperationalError(
        "BEGIN", {}, sqlite3.OperationalError("database is locked")
    )  # what the driver raises, wrapped as SQLAlchemy does
    return _failing_transact(store, bad, lambda: locked, times=4)


@pytest.mark.parametrize(
    "fault",
    [fault_render, fault_spawn, fault_executor, fault_results, fault_store],
    ids=["render", "spawn", "executor-submit", "result-application", "store-error"],
)
def test_a_failure_at_any_stage_of_dispatch_stays_with_its_workflow(
    store: Store, scheduler: Scheduler, fault: Fault
) -> None:
    good, bad = good_and_bad(store)
    undo = fault(scheduler, bad, store)
    try:
        drive(scheduler, finished(store, good), timeout=30)
        assert store.status(good) is WorkflowStatus.SUCCEEDED
    finally:
        undo()
    drive(scheduler, finished(store, bad), timeout=30)  # and the faulty one ends too
    victim = store.node(bad, "victim")
    if fault in (fault_results, fault_store):  # transient: everything ran in the end
        assert store.status(bad) is WorkflowStatus.SUCCEEDED
        counted = scheduler.stats.errors if fault is fault_results else scheduler.stats.busy
        assert counted >= 1 and scheduler.stats.last_error is not None
    else:  # the victim alone failed, with the reason
        assert victim.status is Status.FAILED
        assert "could not start" in (victim.attempts[-1].error or "")
        assert status_of(store, bad, "bystander") is Status.SUCCEEDED


def test_the_loop_survives_an_unexpected_error_and_backs_off(
    store: Store, scheduler: Scheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, _bad = good_and_bad(store)
    real = scheduler._housekeeping
    calls = [0]

    def broken(now: float) -> bool:
        calls[0] += 1
        if calls[0] <= 3:
            raise RuntimeError("housekeeping bug")
        return real(now)

    monkeypatch.setattr(scheduler, "_housekeeping", broken)
    began = time.monotonic()
    drive(scheduler, finished(store, good), timeout=30)
    assert store.status(good) is WorkflowStatus.SUCCEEDED
    assert scheduler.stats.errors == 3
    assert "housekeeping bug" in (scheduler.stats.last_error or "")
    assert time.monotonic() - began >= 0.1 + 0.2 + 0.4 - 0.05  # it waited, doubling


def test_a_big_fan_out_runs_in_batches_of_bounded_transactions(
    store: Store, scheduler: Scheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nodes made ready together (200,000 chunks behind one sim) run RUN_BATCH per
    transaction: every one of them runs, and no transaction starts more than the batch."""
    import stormflow.engine.scheduler as module

    monkeypatch.setattr(module, "RUN_BATCH", 4)
    fan = [task(f"c{i:02d}", "true") for i in range(20)]
    wf = submit(
        store,
        [task("root", "true"), *fan, task("end", "true")],
        [("root", c.name) for c in fan] + [(c.name, "end") for c in fan],
    )
    real = store.transact
    runs: list[int] = []

    def counting(workflow_id: str, fn: Any, **kw: Any) -> Any:
        applied = real(workflow_id, fn, **kw)
        if applied.outcome is not None:
            runs.append(sum(e.type == "run" for e in applied.outcome.events))
        return applied

    monkeypatch.setattr(store, "transact", counting)
    drive(scheduler, finished(store, wf), timeout=60)
    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    assert max(runs) <= 4 and sum(runs) == 22
