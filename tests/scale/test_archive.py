"""Finding 4 of issue 19: archiving stops a workflow; retention removes old archived ones."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stormflow import core
from stormflow.api.embedded import EmbeddedScheduler
from stormflow.core import Status, WorkflowStatus
from stormflow.engine.retention import parse_duration
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.store import Store, UnknownWorkflow
from tests.api.helpers import API, client
from tests.engine.helpers import submit, task, wait_until

STORM = [sys.executable, "-m", "stormflow.cli.main"]


def test_archiving_a_running_workflow_stops_it(store: Store, tmp_path: Path) -> None:
    """Its running process is killed, its pending attempt never claimed, nothing downstream
    starts; unarchiving shows it again and resumes nothing."""
    wf = submit(
        store,
        [task("a", ["sleep", "30"]), task("c", ["sleep", "30"]), task("b", "true")],
        [("a", "b")],
    )
    embedded = EmbeddedScheduler(Scheduler(store, Settings(data_dir=tmp_path), slots=1))
    with client(store, tmp_path, scheduler=embedded) as api:
        embedded.start()
        try:
            # a runs (one slot); c is running too, its attempt pending for a free slot
            wait_until(
                lambda: store.attempts(wf, "a") and store.attempts(wf, "a")[0].attempt.started_at,
                what="a to start",
            )
            wait_until(lambda: store.node(wf, "c").status is Status.RUNNING, what="c to wait")
            answer = api.post(f"{API}/workflows/{wf}/archive")
            assert answer.status_code == 200, answer.text
            assert answer.json()["archived"] is True
            assert answer.json()["status"] == "failed"  # its running nodes were canceled
            for name in ("a", "c"):
                assert store.node(wf, name).status is Status.CANCELED
            wait_until(
                lambda: store.attempts(wf, "a")[0].attempt.ended_at is not None,
                what="a's attempt to end",
            )
            time.sleep(1.0)  # a slot is free now: nothing of the archived workflow takes it
            assert [a.attempt.started_at for a in store.attempts(wf, "c")] == [None]
            assert store.attempts(wf, "b") == []
            assert embedded.scheduler.executor.running() == []
            again = api.post(f"{API}/workflows/{wf}/archive")
            assert again.status_code == 200  # idempotent
            refused = api.post(
                f"{API}/workflows/{wf}/actions",
                json={"action": "retry", "selection": {"names": ["a"]}},
            )
            assert refused.status_code == 409
            assert refused.json()["error"]["code"] == "workflow-archived"
            back = api.post(f"{API}/workflows/{wf}/unarchive")
            assert back.status_code == 200 and back.json()["archived"] is False
            assert back.json()["status"] == "failed"  # nothing resumed by itself
            assert wf in [w["id"] for w in api.get(f"{API}/workflows").json()["items"]]
            types = [e.type for e in store.events(wf)]
            assert types.count("archive") == 1 and types[-1] == "unarchive"
        finally:
            embedded.stop(grace=1.0)


def test_pending_attempts_of_archived_workflows_are_never_claimed(
    store: Store, tmp_path: Path
) -> None:
    wf = submit(store, [task("a", "true"), task("b", "true")], [("a", "b")])
    store.archive(wf, at=1.0)
    # a pending attempt made behind the archive's back (the store allows it; the API not)
    store.transact(wf, lambda v: core.run_ready(v, ["a"], at=2.0))
    assert store.pending_attempts(now=10.0) == []
    assert store.claim(wf, "a", "a#1", owner="me", now=10.0, lease_seconds=30.0) is None
    scheduler = Scheduler(store, Settings(data_dir=tmp_path), slots=2)
    try:
        scheduler._check[wf].add("a")
        for _ in range(5):
            scheduler.step()
        assert [a.attempt.started_at for a in store.attempts(wf, "a")] == [None]
        assert store.attempts(wf, "b") == []
    finally:
        scheduler.close()


def _archived(store: Store, name: str, at: float, data_dir: Path) -> str:
    wf = submit(store, [task("a", "true"), task("b", "true")], [("a", "b")], name=name)
    store.transact(wf, lambda v: core.run_ready(v, ["a"], at=at))
    store.transact(wf, lambda v: core.started(v, "a", "a#1", at=at, worker="w", log=None))
    store.transact(wf, lambda v: core.succeed(v, "a", "a#1", at=at))
    store.transact(wf, lambda v: core.retry(v, ["a"], at=at))  # a snapshot
    logs = data_dir / "logs" / wf
    logs.mkdir(parents=True)
    (logs / "a_1.log").write_text("hello\n")
    store.archive(wf, at=at)
    return wf


def test_prune_removes_old_archived_workflows_with_their_rows_and_logs(
    store: Store, tmp_path: Path
) -> None:
    now = time.time()
    old = [_archived(store, f"old{i}", now - 100 * 86400, tmp_path) for i in range(3)]
    recent = _archived(store, "recent", now - 86400, tmp_path)
    kept = submit(store, [task("a", "true")], name="kept")
    assert store.snapshots(old[0], "a")
    from stormflow.engine.retention import prune

    removed = prune(store, tmp_path, parse_duration("90d"), now=now)
    assert sorted(removed) == sorted(old)
    for wf in old:
        with pytest.raises(UnknownWorkflow):
            store.workflow(wf)
        assert store.events(wf) == [] and store.attempts(wf, "a") == []
        assert store.snapshots(wf, "a") == [] and store.nodes(wf) == []
        assert not (tmp_path / "logs" / wf).exists()
    assert store.workflow(recent).archived and (tmp_path / "logs" / recent).exists()
    assert store.status(kept) is WorkflowStatus.RUNNING
    assert prune(store, tmp_path, parse_duration("90d"), now=now) == []


def test_prune_command_bad_input_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    store = Store.default(tmp_path)
    try:
        wf = _archived(store, "old", 1.0, tmp_path)
    finally:
        store.close()
    for bad in ("xyz", "90", "-5d", "0d", "1y"):
        done = subprocess.run(
            [*STORM, "prune", "--older-than", bad, "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "--older-than" in done.stderr
    store = Store.default(tmp_path)
    try:
        assert store.workflow(wf).archived
    finally:
        store.close()
    done = subprocess.run(
        [*STORM, "prune", "--older-than", "90d", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "removed 1 " in done.stdout


def test_prune_killed_midway_leaves_whole_workflows(tmp_path: Path) -> None:
    """kill -9 during a prune: every workflow is either all there or all gone."""
    store = Store.default(tmp_path)
    try:
        ids = [_archived(store, f"w{i}", 1.0, tmp_path) for i in range(120)]
    finally:
        store.close()
    env = os.environ | {"STORM_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [*STORM, "prune", "--older-than", "1d"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = Store.default(tmp_path)
    try:
        for wf in ids:
            try:
                row = store.workflow(wf)
            except UnknownWorkflow:
                assert store.nodes(wf) == [] and store.events(wf) == []
                continue
            assert row.archived and len(store.nodes(wf)) == 2 and store.events(wf)
            assert sum(store.counts(wf).values()) == 2
    finally:
        store.close()
