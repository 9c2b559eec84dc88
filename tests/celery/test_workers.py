"""Attempts on `storm worker` processes: routing by instance type, logs, a worker killed, cancel.

The scheduler runs in the test process (in a thread) on PostgreSQL; workers are subprocesses.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stormflow import core
from stormflow.core import Status, WorkflowStatus
from stormflow.store import Store
from tests.celery.conftest import POSTGRES
from tests.celery.helpers import Farm, worker_id
from tests.engine.helpers import (
    finished,
    in_thread,
    lines,
    pid_alive,
    pids_in,
    submit,
    wait_until,
)

pytestmark = [pytest.mark.slow, POSTGRES]


def test_nodes_run_on_workers_serving_their_instance_type_and_logs_come_back(
    store: Store, farm: Farm
) -> None:
    cpu = worker_id(farm.worker("cpu", tag="cpu"))
    mem = worker_id(farm.worker("mem", tag="mem"))
    nodes = [
        farm.node("sim", 0.2, "cpu"),
        farm.node("render1", 0.2, "mem"),
        farm.node("render2", 0.2, "mem"),
        farm.node("comp", 0.2, "cpu"),
    ]
    edges = [("sim", "render1"), ("sim", "render2"), ("render1", "comp"), ("render2", "comp")]
    wf = submit(store, nodes, edges)
    with in_thread(farm.scheduler(store), timeout=60):
        wait_until(finished(store, wf), timeout=30, what=f"the workflow\n{farm.output()}")
    assert store.status(wf) is WorkflowStatus.SUCCEEDED, farm.output()
    assert farm.workers_of() == {
        "sim": {cpu},
        "comp": {cpu},
        "render1": {mem},
        "render2": {mem},
    }
    for node in nodes:
        (row,) = store.attempts(wf, node.name)
        text = Path(
            str(row.attempt.log)
        ).read_text()  # the attempt's log path, on the scheduler side
        assert str(farm.data) in str(row.attempt.log)
        assert f"output of {node.name}\n" in text
        assert "on worker" in text and "exited with code 0" in text


def test_worker_killed_mid_task_is_lost_and_retried_elsewhere(store: Store, farm: Farm) -> None:
    first = farm.worker("cpu", tag="first", data_dir=farm.root / "host")
    wf = submit(store, [farm.node("long", 3.0, retries=0)])
    with in_thread(farm.scheduler(store), timeout=60):
        wait_until(lambda: lines(farm.runs), timeout=20, what=f"the command\n{farm.output()}")
        orphan = pids_in(farm.pids)[0]
        first.kill()
        killed_at = time.monotonic()
        # Recorded lost within a couple of heartbeat ttls, not after the lease or an hour.
        wait_until(
            lambda: len(store.attempts(wf, "long")) == 2, timeout=10, what="the lost attempt"
        )
        noticed = time.monotonic() - killed_at
        # A worker restarting on that host kills the orphaned command first.
        farm.worker("cpu", tag="second", data_dir=farm.root / "host")
        wait_until(lambda: not pid_alive(orphan), timeout=10, what="the orphan reaped")
        wait_until(finished(store, wf), timeout=30, what=f"the retry\n{farm.output()}")
    assert store.status(wf) is WorkflowStatus.SUCCEEDED, farm.output()
    lost, retry = [r.attempt for r in store.attempts(wf, "long")]
    assert (lost.result, lost.error) == ("lost", "worker lost")
    assert retry.result == "succeeded"  # retries=0: a lost attempt does not use retries up
    assert set(farm.runs_by_token().values()) == {1}
    assert noticed < 6, noticed


def test_cancel_kills_the_remote_process_group(store: Store, farm: Farm) -> None:
    farm.worker("cpu", tag="cpu")
    wf = submit(store, [farm.node("long", 60.0)])
    with in_thread(farm.scheduler(store), timeout=60) as served:
        wait_until(lambda: pids_in(farm.pids), timeout=20, what=f"the command\n{farm.output()}")
        (pid,) = pids_in(farm.pids)
        assert pid_alive(pid)
        applied = store.transact(wf, lambda v: core.cancel(v, ["long"], at=time.time()))
        assert applied.outcome is not None
        served.apply(wf, applied.outcome)  # as the API does: stops go to the executor at once
        wait_until(lambda: not pid_alive(pid), timeout=10, what="the command killed")
        wait_until(
            lambda: store.attempts(wf, "long")[0].attempt.result is not None,
            timeout=10,
            what="the stopped attempt recorded",
        )
    assert store.node(wf, "long").status is Status.CANCELED
    (row,) = store.attempts(wf, "long")
    assert row.attempt.result == "stopped"
    assert "killed by signal SIGTERM" in Path(str(row.attempt.log)).read_text()


def test_rabbitmq_as_broker(store: Store, farm: Farm, rabbitmq: str) -> None:
    farm.worker("cpu", tag="rabbit", broker=rabbitmq)
    wf = submit(store, [farm.node("a", 0.1), farm.node("b", 0.1)], [("a", "b")])
    with in_thread(farm.scheduler(store, broker=rabbitmq), timeout=60):
        wait_until(finished(store, wf), timeout=30, what=f"the workflow\n{farm.output()}")
    assert store.status(wf) is WorkflowStatus.SUCCEEDED, farm.output()
    for name in ("a", "b"):
        (row,) = store.attempts(wf, name)
        assert f"output of {name}" in Path(str(row.attempt.log)).read_text()
