"""The supervisor of `storm server`'s scheduler child, with stand-in children."""

from __future__ import annotations

import io
import sys
import time

from stormflow.api.scheduler_process import SchedulerProcess, describe_exit
from stormflow.core import Attempt, Outcome
from stormflow.engine import handover


def wait_for(condition, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return value


def test_a_child_that_keeps_dying_is_restarted_with_its_error_kept() -> None:
    crash = "import sys; sys.stderr.write('no database\\n'); sys.exit(3)"
    sup = SchedulerProcess([sys.executable, "-c", crash], backoff=0.05, stderr=io.StringIO())
    sup.start()
    try:
        wait_for(lambda: sup.restarts >= 2)
        assert sup.last_error == "exited with code 3: no database"
    finally:
        sup.stop(timeout=5)
    restarts = sup.restarts
    time.sleep(0.3)
    assert sup.restarts == restarts  # stopped: no more restarts
    assert not sup.alive


def test_stop_terminates_the_child_and_its_figures_add_up() -> None:
    report = (
        "import json, sys, time\n"
        "print(json.dumps({'stats': {'dispatched': 5, 'results': 4, 'running': 2}}), flush=True)\n"
        "print('not a report', flush=True)\n"
        "time.sleep(60)\n"
    )
    sup = SchedulerProcess([sys.executable, "-c", report], backoff=0.05, stderr=io.StringIO())
    sup.start()
    try:
        wait_for(lambda: sup.figures()["dispatched"] == 5)
        assert sup.figures()["running"] == 2
        assert sup.health()["alive"] and sup.health()["pid"] is not None
        pid = sup.pid
        assert pid is not None
        import os
        import signal

        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: sup.restarts == 1 and sup.figures()["dispatched"] == 10)
        assert sup.last_error == "killed by SIGKILL"
    finally:
        sup.stop(timeout=5)
    assert not sup.alive and sup.health()["pid"] is None


def test_hand_over_lines_carry_what_a_scheduler_acts_on() -> None:
    outcome = Outcome(action="retry", actor="ann", at=1.0)
    outcome.check = {"b", "a"}
    outcome.stop = [("c", "c#1")]
    outcome.start = [("d", Attempt(number=2, token="d#2", created_at=1.0, not_before=5.0))]
    line = handover.encode("wf1", outcome)
    assert line is not None and line.endswith("\n")
    workflow_id, back = handover.decode(line)
    assert workflow_id == "wf1"
    assert back.check == {"a", "b"} and back.stop == [("c", "c#1")]
    [(node, attempt)] = back.start
    assert (node, attempt.number, attempt.token, attempt.not_before) == ("d", 2, "d#2", 5.0)
    assert handover.encode("wf1", Outcome(action="hold", actor="ann", at=1.0)) is None


def test_exit_descriptions() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(2) == "exited with code 2"


class _Executor:
    def __init__(self) -> None:
        self.stopped: list[str] = []

    def stop(self, token: str) -> None:
        self.stopped.append(token)


class _Scheduler:
    def __init__(self) -> None:
        self.executor = _Executor()
        self.applied: list[tuple[str, Outcome]] = []
        self.stopped = False
        self.woken = 0

    def apply(self, workflow_id: str, outcome: Outcome) -> None:
        self.applied.append((workflow_id, outcome))

    def wake(self) -> None:  # the inbox ends the loop's idle wait for each hand-over
        self.woken += 1


def test_the_child_inbox_stops_at_once_applies_on_drain_and_skips_malformed_lines() -> None:
    outcome = Outcome(action="cancel", actor="ann", at=1.0, stop=[("c", "c#1")], check={"d"})
    line = handover.encode("wf1", outcome)
    assert line is not None
    fake = _Scheduler()
    stream = io.StringIO('not json\n{"workflow": 1}\n\n' + line)
    inbox = handover.Inbox(fake, stream, on_eof=lambda: setattr(fake, "stopped", True))  # type: ignore[arg-type]
    inbox.start()
    wait_for(lambda: fake.stopped)  # end of input: the server is gone
    assert fake.executor.stopped == ["wf1/c#1"]
    assert fake.applied == []  # only on the loop's thread
    assert fake.woken == 1  # ... which is woken at once
    inbox.drain()
    [(workflow_id, got)] = fake.applied
    assert workflow_id == "wf1" and got.check == {"d"}
