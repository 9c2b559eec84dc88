"""LocalExecutor against real processes: series, logs, env/cwd, stop, timeouts, slots, races."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stormflow.engine.executor import ExecutorError, NoFreeSlot
from stormflow.engine.jobs import Job, JobResult
from stormflow.engine.local import LocalExecutor
from stormflow.kinds.email import EmailSender


class Results:
    """on_result callback that records every call and lets tests wait for a token."""

    def __init__(self) -> None:
        self.calls: list[JobResult] = []
        self.cond = threading.Condition()

    def __call__(self, result: JobResult) -> None:
        with self.cond:
            self.calls.append(result)
            self.cond.notify_all()

    def count(self, token: str) -> int:
        with self.cond:
            return sum(1 for r in self.calls if r.token == token)

    def wait(self, token: str, timeout: float = 10.0) -> JobResult:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for result in self.calls:
                    if result.token == token:
                        return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no result for {token} within {timeout}s")
                self.cond.wait(remaining)


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.01)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # In containers nobody may reap orphans: a zombie is dead for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def read_pids(path: Path) -> list[int]:
    wait_until(lambda: path.exists() and path.read_text().endswith("\n"))
    return [int(p) for p in path.read_text().split()]


def task(token: str, *commands: tuple[str, ...] | str, **fields: Any) -> Job:
    return Job(
        workflow_id="wf1", node="render", token=token, kind="task", commands=commands, **fields
    )


@pytest.fixture
def results() -> Results:
    return Results()


@pytest.fixture
def make_executor(results: Results) -> Iterator[Callable[..., LocalExecutor]]:
    made: list[LocalExecutor] = []

    def make(**kwargs: Any) -> LocalExecutor:
        kwargs.setdefault("slots", 4)
        kwargs.setdefault("email_sender", EmailSender(None))
        executor = LocalExecutor(results, **kwargs)
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.close(0.5)


@pytest.fixture
def executor(make_executor: Callable[..., LocalExecutor]) -> LocalExecutor:
    return make_executor()


def test_two_commands_in_series_succeed(executor: LocalExecutor, results: Results) -> None:
    executor.submit(task("a1", ("echo", "one"), "echo two"))
    result = results.wait("a1")
    assert (result.ok, result.exit_code, result.error) == (True, 0, None)
    assert (result.workflow_id, result.node) == ("wf1", "render")
    assert result.started_at <= result.ended_at


def test_failure_stops_the_series(
    executor: LocalExecutor, results: Results, tmp_path: Path
) -> None:
    executor.submit(task("a1", ("true",), "exit 3", ("touch", "after"), cwd=str(tmp_path)))
    result = results.wait("a1")
    assert not result.ok
    assert result.exit_code == 3
    assert result.error == "command 2/3 `exit 3` exited with code 3"
    assert not (tmp_path / "after").exists()


def test_log_has_output_headers_and_footers(
    executor: LocalExecutor, results: Results, tmp_path: Path
) -> None:
    log_path = tmp_path / "logs" / "shot010" / "render.log"  # parents do not exist yet
    executor.submit(task("a1", ("echo", "frame-out"), "echo frame-err >&2", log_path=str(log_path)))
    assert results.wait("a1").ok
    executor.submit(task("a2", "exit 4", log_path=str(log_path)))
    assert results.wait("a2").exit_code == 4

    text = log_path.read_text()
    markers = [
        "render attempt a1 command 1/2: echo frame-out",
        "frame-out",
        "command 1/2 exited with code 0 after",
        "render attempt a1 command 2/2: (shell) echo frame-err >&2",
        "frame-err",
        "command 2/2 exited with code 0 after",
        "render attempt a2 command 1/1: (shell) exit 4",  # appended, not overwritten
        "command 1/1 exited with code 4 after",
    ]
    positions = [text.index(marker) for marker in markers]
    assert positions == sorted(positions)
    header = text.splitlines()[0]
    assert header.startswith("=== [20")  # an ISO timestamp


def test_env_and_cwd_are_applied(executor: LocalExecutor, results: Results, tmp_path: Path) -> None:
    workdir = tmp_path / "work" / "shot010"  # created by the executor
    executor.submit(
        task(
            "a1",
            'pwd > where.txt; echo "$STORM_TEST_VAR" > var.txt; echo "$PATH" > path.txt',
            env={"STORM_TEST_VAR": "v42"},
            cwd=str(workdir),
        )
    )
    assert results.wait("a1").ok
    assert Path((workdir / "where.txt").read_text().strip()).resolve() == workdir.resolve()
    assert (workdir / "var.txt").read_text().strip() == "v42"
    assert (workdir / "path.txt").read_text().strip() == os.environ["PATH"]  # env is added to


def test_argv_is_not_interpreted_by_a_shell(
    executor: LocalExecutor, results: Results, tmp_path: Path
) -> None:
    log_path = tmp_path / "job.log"
    executor.submit(
        task("a1", ("echo", "$HOME; exit 1"), "echo shell:$((6 * 7))", log_path=str(log_path))
    )
    assert results.wait("a1").ok
    text = log_path.read_text()
    assert "\n$HOME; exit 1\n" in text
    assert "\nshell:42\n" in text


def test_missing_executable_fails_cleanly(
    executor: LocalExecutor, results: Results, tmp_path: Path
) -> None:
    log_path = tmp_path / "job.log"
    executor.submit(task("a1", ("true",), ("storm-no-such-program",), log_path=str(log_path)))
    result = results.wait("a1")
    assert (result.ok, result.exit_code) == (False, None)
    assert result.error == (
        "command 2/2 could not start: storm-no-such-program: no such file or directory"
    )
    assert "could not start" in log_path.read_text()


def test_bad_cwd_fails_cleanly(executor: LocalExecutor, results: Results, tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    executor.submit(task("a1", ("true",), cwd=str(not_a_dir / "sub")))
    result = results.wait("a1")
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith(f"could not create working directory {not_a_dir / 'sub'}: ")


def test_killed_by_signal_is_reported(executor: LocalExecutor, results: Results) -> None:
    executor.submit(task("a1", "kill -9 $$"))
    result = results.wait("a1")
    assert result.exit_code == -9
    assert result.error == "command 1/1 `kill -9 $$` killed by signal SIGKILL"


def test_stop_kills_the_whole_process_group(
    executor: LocalExecutor, results: Results, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    executor.submit(task("a1", f"sleep 30 & echo $$ $! > {pids}; wait"))
    shell, grandchild = read_pids(pids)
    assert pid_alive(shell) and pid_alive(grandchild)

    began = time.monotonic()
    executor.stop("a1")
    result = results.wait("a1", timeout=5)
    assert time.monotonic() - began < 2  # SIGTERM was enough, no grace period needed
    assert (result.ok, result.error) == (False, "stopped")
    wait_until(lambda: not pid_alive(shell) and not pid_alive(grandchild), timeout=2)

    executor.stop("a1")  # finished: no-op
    executor.stop("never-submitted")
    assert results.count("a1") == 1


def test_sigterm_ignored_means_sigkill_after_grace(
    make_executor: Callable[..., LocalExecutor], results: Results, tmp_path: Path
) -> None:
    executor = make_executor(grace=0.5)
    pids = tmp_path / "pids"
    # The ignored disposition is inherited by the grandchild through fork and exec.
    log_path = tmp_path / "job.log"
    executor.submit(
        task("a1", f"trap '' TERM; sleep 30 & echo $$ $! > {pids}; wait", log_path=str(log_path))
    )
    shell, grandchild = read_pids(pids)

    began = time.monotonic()
    executor.stop("a1")
    result = results.wait("a1", timeout=5)
    elapsed = time.monotonic() - began
    assert 0.4 <= elapsed < 3
    assert (result.ok, result.error, result.exit_code) == (False, "stopped", -9)
    assert "command 1/1 killed by signal SIGKILL after" in log_path.read_text()
    assert log_path.read_text().endswith("s (stopped)\n")
    wait_until(lambda: not pid_alive(shell) and not pid_alive(grandchild), timeout=2)


def test_max_seconds_kills_and_fails(
    executor: LocalExecutor, results: Results, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    executor.submit(task("a1", f"sleep 30 & echo $! > {pids}; wait", max_seconds=0.5))
    (grandchild,) = read_pids(pids)
    result = results.wait("a1", timeout=5)
    assert result.ended_at - result.started_at < 3
    assert (result.ok, result.error) == (False, "timed out: still running after max_seconds 0.5")
    wait_until(lambda: not pid_alive(grandchild), timeout=2)


def test_max_seconds_not_reached_is_fine(executor: LocalExecutor, results: Results) -> None:
    executor.submit(task("a1", ("true",), max_seconds=10))
    assert results.wait("a1").ok


def test_min_seconds_failure(executor: LocalExecutor, results: Results) -> None:
    executor.submit(task("a1", ("true",), min_seconds=5))
    result = results.wait("a1")
    assert (result.ok, result.exit_code) == (False, 0)
    assert result.error is not None
    assert re.fullmatch(r"finished in \d+\.\ds, below min_seconds 5", result.error)


def test_slots_are_respected(make_executor: Callable[..., LocalExecutor], results: Results) -> None:
    executor = make_executor(slots=2)
    assert executor.free_slots() == 2
    executor.submit(task("a1", ("sleep", "30")))
    assert executor.free_slots() == 1
    executor.submit(task("a2", ("sleep", "30")))
    assert executor.free_slots() == 0
    assert sorted(executor.running()) == ["a1", "a2"]
    with pytest.raises(NoFreeSlot, match="all 2 slots are busy"):
        executor.submit(task("a3", ("true",)))

    executor.stop("a1")
    results.wait("a1")
    assert executor.free_slots() == 1
    assert executor.running() == ["a2"]
    with pytest.raises(ExecutorError, match="already running"):
        executor.submit(task("a2", ("true",)))
    executor.stop("a2")
    results.wait("a2")
    assert executor.free_slots() == 2
    assert executor.running() == []


def test_slot_is_free_when_on_result_runs(tmp_path: Path) -> None:
    # The scheduler submits the next job from its callback: the slot must already be released.
    seen: list[JobResult] = []
    done = threading.Event()

    def on_result(result: JobResult) -> None:
        seen.append(result)
        if result.token == "first":
            local.submit(task("second", ("true",)))
        else:
            done.set()

    local = LocalExecutor(on_result, slots=1, email_sender=EmailSender(None))
    try:
        local.submit(task("first", ("true",)))
        assert done.wait(5)
        assert [r.token for r in seen] == ["first", "second"]
        assert all(r.ok for r in seen)
    finally:
        local.close(0.5)


def test_a_job_submitted_from_on_result_runs_on_the_reporting_thread(tmp_path: Path) -> None:
    """A chain's next task goes to the thread that reported the previous one, even with idle
    threads about: no other thread is woken for it."""
    threads: dict[str, int] = {}
    done = threading.Event()
    chain = [f"t{i}" for i in range(6)]

    def on_result(result: JobResult) -> None:
        threads[result.token] = threading.get_ident()
        i = chain.index(result.token)
        if i + 1 < len(chain):
            local.submit(task(chain[i + 1], ("true",)))
        else:
            done.set()

    local = LocalExecutor(on_result, slots=3, email_sender=EmailSender(None))
    try:
        for warm in ("w1", "w2", "w3"):  # three worker threads, idle afterwards
            local.submit(task(warm, ("sleep", "0.2")))
        wait_until(lambda: local.free_slots() == 3)
        local.submit(task(chain[0], ("true",)))
        assert done.wait(10)
        assert len({threads[t] for t in chain}) == 1
    finally:
        local.close(0.5)


def test_on_result_once_when_stop_races_completion(
    executor: LocalExecutor, results: Results
) -> None:
    tokens = [f"race{i}" for i in range(20)]
    for i, token in enumerate(tokens):
        command = ("true",) if i % 2 else f"sleep 0.0{i % 5}"
        wait_until(lambda: executor.free_slots() > 0)
        executor.submit(task(token, command))
        time.sleep((i % 4) * 0.002)  # vary where stop lands: before, during, after the command
        executor.stop(token)
        executor.stop(token)
    for token in tokens:
        results.wait(token)
    wait_until(lambda: executor.running() == [])
    time.sleep(0.2)  # a duplicate report would land now
    assert [results.count(token) for token in tokens] == [1] * 20
    for result in results.calls:
        assert result.ok or result.error == "stopped"


def test_close_stops_everything(
    make_executor: Callable[..., LocalExecutor], results: Results
) -> None:
    executor = make_executor()
    executor.submit(task("a1", ("sleep", "30")))
    executor.submit(task("a2", "trap '' TERM; sleep 30"))
    began = time.monotonic()
    executor.close(0.5)
    assert time.monotonic() - began < 3
    assert {r.token: r.error for r in results.calls} == {"a1": "stopped", "a2": "stopped"}
    with pytest.raises(ExecutorError, match="executor is closed"):
        executor.submit(task("a3", ("true",)))


def test_unknown_kind_fails(executor: LocalExecutor, results: Results) -> None:
    executor.submit(Job(workflow_id="wf1", node="n", token="a1", kind="teleport"))
    assert results.wait("a1").error == "unknown job kind 'teleport'"


def test_an_orphaned_attempt_is_reaped_by_a_successor(tmp_path: Path) -> None:
    """A dead scheduler's running command is killed by the next one, verified by its token."""
    from stormflow.engine import orphans

    run_dir = tmp_path / "run"
    owner_dir = orphans.claim_dir(run_dir, "host:1:dead")
    results: list[JobResult] = []
    executor = LocalExecutor(results.append, slots=1, pid_dir=owner_dir)
    marker = tmp_path / "pid"
    executor.submit(
        Job("wf", "n", "wf/n#1", "task", commands=(f"echo $$ > {marker}; exec sleep 30",))
    )
    deadline = time.monotonic() + 10
    while not (marker.exists() and marker.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    pid = int(marker.read_text())
    assert list(owner_dir.glob("*.pid"))
    killed = orphans.reap_dead_owners(run_dir, lambda owner: owner == "host:1:dead")
    assert killed == 1
    while time.monotonic() < deadline and not results:
        time.sleep(0.02)
    assert results and not results[0].ok
    assert not owner_dir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_child_env_is_taken_at_submit(
    executor: LocalExecutor, results: Results, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Set after the executor was made: the child sees os.environ as it is when submitted,
    # then the job's env on top, then STORM_ATTEMPT (which the job's env cannot override).
    monkeypatch.setenv("STORM_TEST_LATE", "late")
    monkeypatch.setenv("STORM_TEST_OVERRIDDEN", "from-os")
    monkeypatch.delenv("STORM_TEST_GONE", raising=False)
    out = tmp_path / "env.txt"
    env = {"STORM_TEST_OVERRIDDEN": "from-job", "STORM_ATTEMPT": "forged", "STORM_TEST_UTF8": "é"}
    executor.submit(task("a1", f"env > {out}", env=env))
    assert results.wait("a1").ok
    lines = set(out.read_text().splitlines())
    assert {
        "STORM_TEST_LATE=late",
        "STORM_TEST_OVERRIDDEN=from-job",
        "STORM_ATTEMPT=a1",
        "STORM_TEST_UTF8=é",
    } <= lines
    assert not any(line.startswith("STORM_TEST_GONE=") for line in lines)

    monkeypatch.setenv("STORM_TEST_GONE", "back")
    monkeypatch.delenv("STORM_TEST_LATE")
    executor.submit(task("a2", f"env > {out}"))  # a snapshot per job, not kept from the first
    assert results.wait("a2").ok
    lines = set(out.read_text().splitlines())
    assert "STORM_TEST_GONE=back" in lines
    assert "STORM_TEST_OVERRIDDEN=from-os" in lines
    assert not any(line.startswith("STORM_TEST_LATE=") for line in lines)


def test_child_env_without_the_bytes_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    # os.environ replaced by a plain dict (no private `_data`): the public route is taken.
    from stormflow.engine import local

    monkeypatch.setattr(os, "environ", {"PATH": "/bin", "STORM_TEST_É": "é"})
    assert local._environ() == {b"PATH": b"/bin", "STORM_TEST_É".encode(): "é".encode()}


def test_threads_are_at_most_the_slots_and_end_on_close(
    make_executor: Callable[..., LocalExecutor], results: Results
) -> None:
    executor = make_executor(slots=3)
    before = set(threading.enumerate())
    for i in range(12):  # kept topped up: every slot busy most of the time
        wait_until(lambda: executor.free_slots() > 0)
        executor.submit(task(f"p{i}", ("sleep", "0.05")))
    for i in range(12):
        assert results.wait(f"p{i}").ok
    threads = [t for t in threading.enumerate() if t not in before]
    assert 1 <= len(threads) <= 3
    executor.close(0.5)
    for thread in threads:
        assert not thread.is_alive()  # close() ends the waiting threads too


def test_the_same_thread_runs_jobs_in_sequence() -> None:
    results = Results()
    threads: list[threading.Thread] = []

    def on_result(result: JobResult) -> None:  # called from the thread that ran the job
        threads.append(threading.current_thread())
        results(result)

    local = LocalExecutor(on_result, slots=4, email_sender=EmailSender(None))
    try:
        for i in range(5):
            local.submit(task(f"s{i}", ("true",)))
            results.wait(f"s{i}")
            wait_until(lambda: local.free_slots() == 4)
            time.sleep(0.02)  # let the thread go back to waiting
    finally:
        local.close(0.5)
    assert len(threads) == 5
    assert all(thread is threads[0] for thread in threads)


def test_idle_threads_exit_and_are_started_again(
    make_executor: Callable[..., LocalExecutor], results: Results, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stormflow.engine import local

    monkeypatch.setattr(local, "_IDLE_SECONDS", 0.1)
    executor = make_executor(slots=2)
    before = set(threading.enumerate())
    executor.submit(task("a1", ("true",)))
    assert results.wait("a1").ok
    wait_until(lambda: not (set(threading.enumerate()) - before))
    executor.submit(task("a2", ("true",)))
    assert results.wait("a2").ok


def test_jobs_submitted_from_the_callback_when_all_threads_are_busy(tmp_path: Path) -> None:
    # slots=2, both threads busy: one sleeps, the other is in its callback and submits 20 jobs
    # one after the other; each waits for that thread and still runs, reported once.
    seen: list[JobResult] = []
    done = threading.Event()

    def on_result(result: JobResult) -> None:
        seen.append(result)
        if len(seen) <= 20:
            local.submit(task(f"c{len(seen)}", ("true",)))
        elif len(seen) == 21:
            done.set()

    local = LocalExecutor(on_result, slots=2, email_sender=EmailSender(None))
    try:
        local.submit(task("long", ("sleep", "30")))
        local.submit(task("c0", ("true",)))
        assert done.wait(10)
        assert [r.token for r in seen] == [f"c{i}" for i in range(21)]
        assert all(r.ok for r in seen)
        assert local.running() == ["long"]
    finally:
        local.close(0.5)
    assert seen[-1].token == "long" and seen[-1].error == "stopped"


def test_close_from_the_callback(tmp_path: Path) -> None:
    seen: list[JobResult] = []

    def on_result(result: JobResult) -> None:
        seen.append(result)
        if result.token == "a1":
            local.submit(task("queued", ("true",)))  # the only thread is busy: queued
            local.close(0.5)  # must not wait for itself

    local = LocalExecutor(on_result, slots=1, email_sender=EmailSender(None))
    local.submit(task("a1", ("true",)))
    wait_until(lambda: len(seen) == 2)
    assert [(r.token, r.error) for r in seen] == [("a1", None), ("queued", "stopped")]
    assert local.running() == []


def test_pid_files_are_kept_per_thread(tmp_path: Path) -> None:
    from stormflow.engine import orphans

    owner_dir = orphans.claim_dir(tmp_path / "run", "host:1:me")
    results = Results()
    local = LocalExecutor(results, slots=1, email_sender=EmailSender(None), pid_dir=owner_dir)
    try:
        marker = tmp_path / "pid"
        local.submit(task("wf/a#1", f"echo $$ > {marker}; exec sleep 30"))
        (pid,) = read_pids(marker)
        # the executor's thread writes the pid file once the spawn returns: maybe after the
        # command already wrote its marker
        wait_until(lambda: any(p.read_text() for p in owner_dir.glob("*.pid")))
        (pidfile,) = owner_dir.glob("*.pid")
        assert pidfile.read_text() == f"{pid}\nwf/a#1\n"
        local.stop("wf/a#1")
        results.wait("wf/a#1")
        assert pidfile.read_text() == ""  # emptied once reaped: reap_dir skips it

        shutil.rmtree(owner_dir)  # removed meanwhile (a successor's reap): made anew
        marker.unlink()
        local.submit(task("wf/b#1", f"echo $$ > {marker}; exec sleep 30"))
        (pid,) = read_pids(marker)
        wait_until(lambda: pidfile.exists() and bool(pidfile.read_text()))
        assert pidfile.read_text() == f"{pid}\nwf/b#1\n"
        local.stop("wf/b#1")
        results.wait("wf/b#1")
    finally:
        local.close(0.5)
    assert list(owner_dir.glob("*.pid")) == []  # the thread removed it on the way out


def test_log_directory_removed_between_jobs_is_made_again(
    executor: LocalExecutor, results: Results, tmp_path: Path
) -> None:
    log_path = tmp_path / "logs" / "wf" / "a.log"
    executor.submit(task("a1", ("echo", "one"), log_path=str(log_path)))
    assert results.wait("a1").ok
    shutil.rmtree(tmp_path / "logs")
    executor.submit(task("a2", ("echo", "two"), log_path=str(log_path)))
    assert results.wait("a2").ok
    assert "\ntwo\n" in log_path.read_text()


def test_log_that_cannot_be_opened(
    executor: LocalExecutor, results: Results, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    executor.submit(task("a1", ("true",), log_path=str(tmp_path / "file" / "a.log")))
    assert (
        results.wait("a1").error == f"could not open log {tmp_path / 'file' / 'a.log'}: file exists"
    )
    executor.submit(task("a2", ("true",), log_path=str(tmp_path)))
    assert results.wait("a2").error == f"could not open log {tmp_path}: is a directory"


def test_commands_are_found_on_the_jobs_path_searched_by_the_executor(
    executor: LocalExecutor, results: Results, tmp_path: Path
) -> None:
    from stormflow.engine import local

    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "mytool"
    tool.write_text("#!/bin/sh\necho tool ran with $1\n")
    tool.chmod(0o755)
    env = {b"PATH": f"{bindir}:/usr/bin:/bin".encode()}
    assert local._executable("mytool", env) == str(tool)
    assert local._executable("./mytool", env) is None  # a path: not searched
    assert local._executable("no-such-tool-x", env) is None  # the child's own error
    assert local._executable("mytool", {b"PATH": b"relative/bin"}) is None
    log = tmp_path / "job.log"
    executor.submit(
        task("t1", ("mytool", "arg"), env={"PATH": f"{bindir}:/usr/bin:/bin"}, log_path=str(log))
    )
    assert results.wait("t1").ok
    assert "tool ran with arg" in log.read_text()
    executor.submit(task("t2", ("no-such-tool-x",), log_path=str(log)))
    failed = results.wait("t2")
    assert not failed.ok and "no-such-tool-x" in (failed.error or "")
