"""Durability: `storm scheduler` processes killed, stopped and doubled up, on real databases.

The workflow is submitted in the test process through `Store`; schedulers run as
subprocesses on the same database URL (the PostgreSQL URL carries the test's schema).
Every task appends "<node> <attempt>" to runs.txt and its process group id to pids.txt,
so the test can count executions and clean up processes a killed scheduler left behind.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stormflow.core import Status, WorkflowStatus
from stormflow.engine.scheduler import job_token
from stormflow.store import Store
from tests.engine.helpers import (
    Planned,
    SchedulerProcess,
    kill_groups,
    lines,
    pid_alive,
    pids_in,
    submit,
    task,
    wait_until,
)

pytestmark = pytest.mark.slow


class Farm:
    """Paths shared by the tasks, and cleanup of whatever they leave running."""

    def __init__(self, root: Path) -> None:
        self.data = root / "data"
        self.runs = root / "runs.txt"
        self.pids = root / "pids.txt"
        self.schedulers: list[SchedulerProcess] = []

    def node(self, name: str, seconds: float) -> Planned:
        line = f'echo $$ >> {self.pids}; echo "$STORM_NODE $STORM_ATTEMPT" >> {self.runs}'
        return task(name, f"{line}; sleep {seconds}")

    def scheduler(self, url: str, *, lease_seconds: float, slots: int) -> SchedulerProcess:
        tag = str(len(self.schedulers) + 1)
        proc = SchedulerProcess(url, self.data, lease_seconds=lease_seconds, slots=slots, tag=tag)
        self.schedulers.append(proc)
        return proc

    def executions(self) -> Counter[str]:
        """How many times each attempt token ran (started its command)."""
        return Counter(line.split()[1] for line in lines(self.runs))

    def per_node(self) -> Counter[str]:
        return Counter(line.split()[0] for line in lines(self.runs))

    def output(self) -> str:
        return "\n".join(
            f"--- scheduler {i + 1}:\n{s.output()}" for i, s in enumerate(self.schedulers)
        )

    def cleanup(self) -> list[int]:
        for proc in self.schedulers:
            proc.kill()
        return kill_groups(pids_in(self.pids))


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[Farm]:
    made = Farm(tmp_path)
    try:
        yield made
    finally:
        made.cleanup()


def wait_status(store: Store, wf: str, farm: Farm, status: WorkflowStatus, timeout: float) -> float:
    began = time.monotonic()
    try:
        wait_until(lambda: store.status(wf) is not WorkflowStatus.RUNNING, timeout=timeout)
    except AssertionError:
        raise AssertionError(f"workflow still running after {timeout}s\n{farm.output()}") from None
    assert store.status(wf) is status, farm.output()
    return time.monotonic() - began


def started_running(store: Store, wf: str) -> list[str]:
    """Running nodes whose attempt a scheduler has claimed (its process is starting or running)."""
    names = []
    for row in store.nodes(wf, statuses=[Status.RUNNING]):
        att = store.node(wf, row.name).attempt
        if att is not None and att.started_at is not None and att.result is None:
            names.append(row.name)
    return names


def check_event_seqs(store: Store, wf: str) -> None:
    seqs = [e.seq for e in store.events(wf, limit=100_000)]
    assert seqs == list(range(1, len(seqs) + 1))


def chain_and_fanout(farm: Farm) -> tuple[list[Planned], list[tuple[str, str]]]:
    """c1 -> c2 -> c3 -> f0..f7 -> join: 12 nodes."""
    chain = [farm.node(f"c{i}", 0.3) for i in (1, 2, 3)]
    fan = [farm.node(f"f{i}", 1.0) for i in range(8)]
    join = farm.node("join", 0.1)
    edges = [("c1", "c2"), ("c2", "c3")]
    edges += [("c3", f.name) for f in fan] + [(f.name, "join") for f in fan]
    return [*chain, *fan, join], edges


def test_kill_9_and_restart_adopts_running_attempts_and_reruns_nothing(
    store: Store, store_url: str, farm: Farm
) -> None:
    """Issue 11, finding 7: the commands of a scheduler killed with SIGKILL run on under the
    data directory's supervisor; its successor adopts them: nothing runs twice, nothing is lost."""
    nodes, edges = chain_and_fanout(farm)
    wf = submit(store, nodes, edges)
    first = farm.scheduler(store_url, lease_seconds=3, slots=3)

    def progressed() -> bool:
        done = store.counts(wf).get(Status.SUCCEEDED, 0)
        return done >= 3 and len(started_running(store, wf)) >= 2

    wait_until(progressed, timeout=30, what=f"progress before the kill\n{farm.output()}")
    first.kill()
    running_at_kill = set(started_running(store, wf))
    assert running_at_kill, "nothing was running at the kill"
    commands = [pid for pid in pids_in(farm.pids) if pid_alive(pid)]
    assert commands, "no command was running at the kill"

    farm.scheduler(store_url, lease_seconds=3, slots=3)
    wait_status(store, wf, farm, WorkflowStatus.SUCCEEDED, timeout=60)

    executions = farm.executions()
    assert all(count == 1 for count in executions.values()), executions  # nothing ran twice
    for node in nodes:
        (row,) = store.attempts(wf, node.name)  # one attempt each: none lost, none retried
        assert row.attempt.result == "succeeded", row
        assert executions[job_token(wf, row.attempt.token)] == 1
    assert not [e for e in store.events(wf, limit=10_000) if e.type == "attempt-lost"]
    check_event_seqs(store, wf)


@pytest.mark.parametrize(
    "store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_two_schedulers_share_one_database(store: Store, store_url: str, farm: Farm) -> None:
    names = [f"n{i:02d}" for i in range(40)]
    wf = submit(store, [farm.node(n, 0.3) for n in names])
    farm.scheduler(store_url, lease_seconds=10, slots=2)
    farm.scheduler(store_url, lease_seconds=10, slots=2)
    wait_status(store, wf, farm, WorkflowStatus.SUCCEEDED, timeout=60)

    executions = farm.executions()
    assert len(executions) == 40 and set(executions.values()) == {1}, executions
    workers: Counter[str | None] = Counter()
    for name in names:
        (row,) = store.attempts(wf, name)
        assert row.attempt.result == "succeeded"
        assert executions[job_token(wf, row.attempt.token)] == 1
        workers[row.attempt.worker] += 1
    assert len(workers) == 2, f"one scheduler did all the work: {workers}"
    check_event_seqs(store, wf)


def test_sigterm_hands_attempts_back_at_once(store: Store, store_url: str, farm: Farm) -> None:
    names = [f"n{i}" for i in range(6)]
    wf = submit(store, [farm.node(n, 1.5) for n in names])
    first = farm.scheduler(store_url, lease_seconds=60, slots=3)
    wait_until(lambda: len(started_running(store, wf)) >= 2, timeout=30, what="tasks to start")
    wait_until(lambda: len(lines(farm.runs)) >= 2, timeout=10, what="commands to start")

    began = time.monotonic()
    assert first.terminate(timeout=20) == 0, farm.output()
    # its processes were stopped, not orphaned
    assert not [pid for pid in pids_in(farm.pids) if pid_alive(pid)]
    farm.scheduler(store_url, lease_seconds=60, slots=3)
    wait_status(store, wf, farm, WorkflowStatus.SUCCEEDED, timeout=20)
    assert time.monotonic() - began < 20

    handed_back = 0
    for name in names:
        *earlier, last = [r.attempt for r in store.attempts(wf, name)]
        assert last.result == "succeeded"
        for att in earlier:
            assert att.result == "lost", earlier
            handed_back += 1
        assert store.node(wf, name).status is Status.SUCCEEDED
    assert handed_back >= 2
    assert set(farm.executions().values()) == {1}
    check_event_seqs(store, wf)


@pytest.mark.parametrize(
    "store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_survivor_takes_over_a_dead_zombie_schedulers_claims_at_once(
    store: Store, store_url: str, farm: Farm
) -> None:
    """Issue 19, item 5: the survivor on the same host recovers the dead scheduler's claims
    (kill -9, left a zombie nobody reaped) without waiting for their 60 s leases."""
    names = [f"n{i}" for i in range(8)]
    wf = submit(store, [farm.node(n, 3.0) for n in names])
    victim = farm.scheduler(store_url, lease_seconds=60, slots=2)
    wait_until(lambda: started_running(store, wf), timeout=30, what=f"a claim\n{farm.output()}")
    survivor = farm.scheduler(store_url, lease_seconds=60, slots=2)

    def both_claim() -> bool:
        workers = {a.worker for a in claimed(store, wf)}
        return all(any(f":{s.pid}." in (w or "") for w in workers) for s in (victim, survivor))

    wait_until(both_claim, timeout=30, what=f"claims of both\n{farm.output()}")
    time.sleep(1.0)  # past the survivor's first housekeeping (which looks for dead owners too)
    victim.proc.kill()  # not reaped: a zombie until the fixture's cleanup
    wait_until(lambda: not pid_alive(victim.pid), timeout=10, what="the victim to die")
    began = time.monotonic()
    # A wait for its leases would take 60 s at least.
    wait_status(store, wf, farm, WorkflowStatus.SUCCEEDED, timeout=40)
    assert time.monotonic() - began < 60
    check_event_seqs(store, wf)


def claimed(store: Store, wf: str) -> list[Any]:
    return [
        row.attempt
        for node in store.nodes(wf)
        for row in store.attempts(wf, node.name)
        if row.attempt.result is None and row.attempt.started_at is not None
    ]
