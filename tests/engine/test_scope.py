"""`storm run FILE` and `storm resume ID` act on their own workflow only (issue 11, finding 2).

An interrupted workflow (Ctrl-C, or its `storm run` killed) waits for its own resume: another
`storm run` or `storm resume` in the same data directory neither runs its nodes, nor records its
attempts lost, nor takes their leases, nor kills its commands.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from stormflow.core import Status
from stormflow.store import Store
from tests.engine.helpers import kill_groups, lines, pid_alive, pids_in, storm_argv, wait_until
from tests.engine.test_cli_run import clean_env, storm, workflow_id, write

pytestmark = pytest.mark.slow


def document(tmp_path: Path, name: str, seconds: float) -> Path:
    runs, pids = tmp_path / "runs.txt", tmp_path / "pids.txt"
    step = f'echo $$ >> {pids}; echo "{name} $STORM_NODE $STORM_ATTEMPT" >> {runs}; sleep {seconds}'
    return write(
        tmp_path / f"{name}.yaml",
        f"""\
        schema: 1
        name: {name}
        nodes:
          - {{name: one, kind: task, commands: ['{step}']}}
          - {{name: two, kind: task, commands: ['{step}']}}
        edges:
          - [one, two]
        """,
    )


def started(tmp_path: Path, name: str) -> list[str]:
    return [line for line in lines(tmp_path / "runs.txt") if line.split()[0] == name]


def start_and_stop(
    tmp_path: Path, data: Path, name: str, how: signal.Signals, seconds: float = 30
) -> str:
    """`storm run` a two-node chain, stopped by `how` while its first task runs; its id."""
    argv = [*storm_argv(), "run", str(document(tmp_path, name, seconds)), "--data-dir", str(data)]
    proc = subprocess.Popen(
        [*argv, "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=clean_env(),
    )  # fmt: skip
    try:
        wait_until(lambda: started(tmp_path, name), timeout=30, what=f"{name} to start")
        proc.send_signal(how)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if how is signal.SIGINT:
        assert proc.returncode == 130, out + err
        return workflow_id(out)
    store = Store.default(data)
    try:
        (row,) = [w for w in store.workflows() if w.name == name]
        return row.id
    finally:
        store.close()


def attempts_of(data: Path, wf: str) -> list[tuple[str, str | None, str | None]]:
    """(node, result, lease owner) of every attempt of the workflow."""
    store = Store.default(data)
    try:
        return [
            (name, row.attempt.result, row.lease_owner)
            for name in ("one", "two")
            for row in store.attempts(wf, name)
        ]
    finally:
        store.close()


@pytest.fixture
def cleanup(tmp_path: Path):  # type: ignore[no-untyped-def]
    yield
    kill_groups(pids_in(tmp_path / "pids.txt"))


@pytest.mark.usefixtures("cleanup")
def test_run_and_resume_leave_other_interrupted_workflows_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a = start_and_stop(tmp_path, data, "a", signal.SIGINT, seconds=1)
    c = start_and_stop(tmp_path, data, "c", signal.SIGINT)
    a_before, c_before = attempts_of(data, a), attempts_of(data, c)

    done = storm("run", str(document(tmp_path, "b", 0.1)), "--data-dir", str(data), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(started(tmp_path, "a")) == 1 and len(started(tmp_path, "c")) == 1
    assert attempts_of(data, a) == a_before and attempts_of(data, c) == c_before

    # a's own resume runs a (its handed-back attempt recorded lost, run again), not c
    done = storm("resume", a, "--data-dir", str(data), "--quiet", timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    assert attempts_of(data, c) == c_before
    assert len(started(tmp_path, "c")) == 1
    store = Store.default(data)
    try:
        assert store.node(a, "two").status is Status.SUCCEEDED
        assert store.node(c, "one").status is Status.RUNNING
    finally:
        store.close()


@pytest.mark.usefixtures("cleanup")
def test_a_killed_runs_commands_and_leases_wait_for_its_own_resume(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a = start_and_stop(tmp_path, data, "a", signal.SIGKILL)
    (command,) = pids_in(tmp_path / "pids.txt")
    a_before = attempts_of(data, a)
    assert [r for _, r, _ in a_before] == [None]

    done = storm("run", str(document(tmp_path, "b", 0.1)), "--data-dir", str(data), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert pid_alive(command), "storm run b killed a's command"
    assert attempts_of(data, a) == a_before
    assert len(started(tmp_path, "a")) == 1


@pytest.mark.usefixtures("cleanup")
def test_resume_after_kill_9_with_the_dead_run_a_zombie(tmp_path: Path) -> None:
    """Issue 11, finding 5: the killed `storm run` is left a zombie (not reaped, as in a
    container without an init); `storm resume` still sees it dead at once (not after its 30 s
    leases), adopts its still running command and runs nothing twice."""
    data = tmp_path / "data"
    argv = [*storm_argv(), "run", str(document(tmp_path, "a", 3)), "--data-dir", str(data)]
    proc = subprocess.Popen(
        [*argv, "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env()
    )
    try:
        wait_until(lambda: started(tmp_path, "a"), timeout=30, what="a to start")
        proc.kill()  # and not reaped until the end: a zombie
        wait_until(lambda: not pid_alive(proc.pid), timeout=10, what="the run to die")
        store = Store.default(data)
        try:
            (wf,) = [w.id for w in store.workflows()]
        finally:
            store.close()
        done = storm("resume", wf, "--data-dir", str(data), "--quiet", timeout=25)
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        proc.wait()
    assert not [pid for pid in pids_in(tmp_path / "pids.txt") if pid_alive(pid)]
    per_node = [line.split()[1] for line in started(tmp_path, "a")]
    assert per_node == ["one", "two"]  # the dead run's command was adopted, not run again
    store = Store.default(data)
    try:
        assert [r.attempt.result for r in store.attempts(wf, "one")] == ["succeeded"]
    finally:
        store.close()
