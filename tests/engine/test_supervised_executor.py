"""SupervisedExecutor: the local executor's behaviour, run by the data directory's supervisor,
and what the supervisor adds: commands that outlive their scheduler, adopted by the next one.

The LocalExecutor tests that concern behaviour (series, logs, env/cwd, stop, timeouts, slots)
are run here again against the supervised executor through the `make_executor` fixture.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stormflow.engine import supervisor
from stormflow.engine.executor import Orphan
from stormflow.engine.supervised import SupervisedExecutor
from stormflow.kinds.email import EmailSender
from tests.engine.test_local_executor import (  # noqa: F401 - collected here again
    Results,
    pid_alive,
    read_pids,
    task,
    test_argv_is_not_interpreted_by_a_shell,
    test_bad_cwd_fails_cleanly,
    test_child_env_is_taken_at_submit,
    test_close_stops_everything,
    test_env_and_cwd_are_applied,
    test_failure_stops_the_series,
    test_killed_by_signal_is_reported,
    test_log_has_output_headers_and_footers,
    test_log_that_cannot_be_opened,
    test_max_seconds_kills_and_fails,
    test_max_seconds_not_reached_is_fine,
    test_min_seconds_failure,
    test_missing_executable_fails_cleanly,
    test_on_result_once_when_stop_races_completion,
    test_sigterm_ignored_means_sigkill_after_grace,
    test_slots_are_respected,
    test_stop_kills_the_whole_process_group,
    test_two_commands_in_series_succeed,
    wait_until,
)


@pytest.fixture
def results() -> Results:
    return Results()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def make_executor(results: Results, data_dir: Path) -> Iterator[Callable[..., SupervisedExecutor]]:
    made: list[SupervisedExecutor] = []

    def make(**kwargs: Any) -> SupervisedExecutor:
        kwargs.setdefault("slots", 4)
        kwargs.setdefault("email_sender", EmailSender(None))
        kwargs.pop("pid_dir", None)  # the supervisor records its own
        executor = SupervisedExecutor(results, data_dir, **kwargs)
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.close(0.5)


@pytest.fixture
def executor(make_executor: Callable[..., SupervisedExecutor]) -> SupervisedExecutor:
    return make_executor()


def die(executor: SupervisedExecutor) -> None:
    """What a kill -9 of the scheduler does to the connection: it just ends."""
    sock = executor._sock
    assert sock is not None
    executor._closed = True  # its reader must not reconnect: the "process" is gone
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def supervisors(data_dir: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"stormflow.engine.supervisor" in argv and os.fsencode(data_dir) in argv:
            found.append(int(entry.name))
    return found


def test_one_supervisor_per_data_directory_on_a_private_socket(
    make_executor: Callable[..., SupervisedExecutor], results: Results, data_dir: Path
) -> None:
    first, second = make_executor(), make_executor()
    first.submit(task("a1", ("true",)))
    second.submit(task("a2", ("true",)))
    assert results.wait("a1").ok and results.wait("a2").ok
    assert len(supervisors(data_dir)) == 1
    path = supervisor.socket_path(data_dir)
    assert path.parent == data_dir / "run"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_commands_outlive_their_scheduler_and_are_adopted(
    make_executor: Callable[..., SupervisedExecutor], results: Results, tmp_path: Path
) -> None:
    """One attempt ends while no scheduler listens (recorded beside its log, real exit code
    and end time), one ends after the next scheduler adopted it (reported to it)."""
    flag = tmp_path / "go"
    quick = task("q1", "exit 3", log_path=str(tmp_path / "q1.log"))
    slow = task(
        "s1", f"while [ ! -e {flag} ]; do sleep 0.05; done", log_path=str(tmp_path / "s1.log")
    )
    first = make_executor()
    first.submit(slow)
    first.submit(quick)
    wait_until(lambda: (tmp_path / "q1.log.exit").exists(), timeout=10)
    die(first)
    time.sleep(0.2)
    assert results.count("s1") == 0

    second = make_executor()
    orphans = [Orphan(j.token, j.workflow_id, j.node, j.log_path) for j in (slow, quick)]
    running, finished = second.adopt("dead-owner", orphans)
    assert running == ["s1"]
    ((ended),) = finished
    assert (ended.token, ended.ok, ended.exit_code) == ("q1", False, 3)
    recorded = json.loads((tmp_path / "q1.log.exit").read_text())
    assert recorded["ended_at"] == ended.ended_at and recorded["exit_code"] == 3
    assert second.running() == ["s1"]
    flag.touch()
    result = results.wait("s1")
    assert result.ok and result.exit_code == 0
    assert results.count("s1") == 1
    assert second.running() == []


def test_an_unadopted_orphan_is_stopped_after_the_grace(
    make_executor: Callable[..., SupervisedExecutor], results: Results, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    first = make_executor(orphan_grace=0.5)
    first.submit(task("o1", f"sleep 30 & echo $! > {pids}; wait", log_path=str(tmp_path / "o.log")))
    (sleeper,) = read_pids(pids)
    die(first)
    wait_until(lambda: not pid_alive(sleeper), timeout=10)
    wait_until(lambda: (tmp_path / "o.log.exit").exists(), timeout=5)
    assert json.loads((tmp_path / "o.log.exit").read_text())["error"] == "stopped"


def test_bad_requests_change_nothing(
    executor: SupervisedExecutor, results: Results, data_dir: Path
) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.connect(str(supervisor.socket_path(data_dir)))
        raw.sendall(b'not json\n{"op": "run", "job": {}}\n{"op": "nope"}\n[1, 2]\n')
    executor.submit(task("a1", ("true",)))
    assert results.wait("a1").ok


def test_a_killed_supervisor_is_replaced_and_its_attempts_reported_lost(
    executor: SupervisedExecutor, results: Results, data_dir: Path, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    executor.submit(task("k1", f"echo $$ > {pids}; sleep 30", log_path=str(tmp_path / "k.log")))
    (shell,) = read_pids(pids)
    (pid,) = supervisors(data_dir)
    os.kill(pid, 9)
    result = results.wait("k1", timeout=20)
    assert (result.ok, result.lost, result.error) == (False, True, "supervisor lost")
    # the next supervisor reaped the dead one's command
    wait_until(lambda: not pid_alive(shell), timeout=10)
    executor.submit(task("k2", ("true",)))
    assert results.wait("k2").ok
