"""The scheduler in-process against real processes, on SQLite and PostgreSQL.

Each test submits a workflow through the store, runs a `Scheduler` with the local
executor (in the test thread with `drive`, or in a background thread with `in_thread`
when the test acts on running nodes meanwhile) and checks what the store recorded.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from aiosmtpd.controller import Controller

from stormflow import core
from stormflow.core import Status, WorkflowStatus
from stormflow.engine.jobs import Job, JobResult
from stormflow.engine.local import LocalExecutor
from stormflow.engine.scheduler import Scheduler, Settings, job_token
from stormflow.store import Store
from tests.engine.helpers import (
    Planned,
    drive,
    finished,
    in_thread,
    pid_alive,
    read_pid,
    submit,
    task,
    wait_until,
)

DIAMOND = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
MakeScheduler = Callable[..., Scheduler]


@pytest.fixture
def make_scheduler(store: Store, tmp_path: Path) -> Iterator[MakeScheduler]:
    made: list[Scheduler] = []

    def make(*workflow_ids: str, slots: int = 2, **settings: Any) -> Scheduler:
        scheduler = Scheduler(
            store,
            Settings(data_dir=tmp_path / "data", workflows=set(workflow_ids), **settings),
            slots=slots,
        )
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.close(grace=1.0)


def attempts(store: Store, wf: str, name: str) -> list[core.Attempt]:
    return [row.attempt for row in store.attempts(wf, name)]


def check_event_seqs(store: Store, wf: str) -> None:
    seqs = [e.seq for e in store.events(wf, limit=100_000)]
    assert seqs == list(range(1, len(seqs) + 1))


# -- running a graph -------------------------------------------------------------------------


def test_diamond_runs_every_node_once_in_dependency_order(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    wf = submit(store, [task(n, f"echo output of {n}") for n in "abcd"], DIAMOND)
    scheduler = make_scheduler(wf)
    drive(scheduler, finished(store, wf), timeout=20)

    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    runs: dict[str, core.Attempt] = {}
    for name in "abcd":
        (att,) = attempts(store, wf, name)
        assert store.node(wf, name).status is Status.SUCCEEDED
        assert (att.number, att.result, att.exit_code) == (1, "succeeded", 0)
        assert att.started_at is not None and att.ended_at is not None
        assert att.started_at <= att.ended_at
        assert att.worker == scheduler.owner
        assert att.log is not None and f"output of {name}" in Path(att.log).read_text()
        runs[name] = att
    for up, down in DIAMOND:
        assert runs[up].ended_at <= runs[down].started_at  # type: ignore[operator]
    run_events = Counter(e.node for e in store.events(wf) if e.type == "run")
    assert run_events == dict.fromkeys("abcd", 1)
    check_event_seqs(store, wf)


def test_a_fan_out_is_claimed_inside_the_transactions_that_record_results(
    store: Store, make_scheduler: MakeScheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attempts waiting for a slot are leased by the transaction of the result that freed
    it: no claim transaction of their own (one write transaction per task)."""
    mids = [f"m{i:02d}" for i in range(12)]
    edges = [("root", m) for m in mids] + [(m, "sink") for m in mids]
    wf = submit(store, [task(n, "true") for n in ["root", *mids, "sink"]], edges)
    scheduler = make_scheduler(wf, slots=2)
    claims: list[str] = []
    real_claim = store.claim
    monkeypatch.setattr(store, "claim", lambda *a, **k: claims.append(a[1]) or real_claim(*a, **k))
    transactions = 0
    real_transact = store.transact

    def counted(*a: Any, **k: Any) -> Any:
        nonlocal transactions
        transactions += 1
        return real_transact(*a, **k)

    monkeypatch.setattr(store, "transact", counted)
    drive(scheduler, finished(store, wf), timeout=30)

    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    assert claims == []
    # about one per result (a slot freed just before its result is queued may be claimed by
    # a transaction of its own); a claim per waiting task would make it two per task
    assert transactions < 1.5 * (len(mids) + 2)
    for name in mids:
        (att,) = attempts(store, wf, name)
        assert att.worker == scheduler.owner and att.result == "succeeded"
    check_event_seqs(store, wf)


@pytest.mark.parametrize("inline", [True, False])
def test_results_are_applied_inline_or_through_the_loop(
    store: Store, make_scheduler: MakeScheduler, monkeypatch: pytest.MonkeyPatch, inline: bool
) -> None:
    """Inline (the default), the executor thread that reports a result applies it and submits
    what it made ready; the loop's queue is for results arriving while the loop is busy."""
    names = [f"n{i}" for i in range(6)]
    wf = submit(store, [task(n, "true") for n in names], list(itertools.pairwise(names)))
    scheduler = make_scheduler(wf, slots=2, inline_results=inline)
    queued: list[JobResult] = []
    real_put = scheduler.results.put
    monkeypatch.setattr(scheduler.results, "put", lambda r: queued.append(r) or real_put(r))
    drive(scheduler, finished(store, wf), timeout=30)

    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    if inline:
        assert len(queued) < len(names)  # most, usually all, never touched the queue
    else:
        assert sorted(r.node for r in queued) == names
    for name in names:
        (att,) = attempts(store, wf, name)
        assert att.result == "succeeded"
    check_event_seqs(store, wf)


def test_a_result_arriving_during_a_step_is_queued_for_the_loop(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    wf = submit(store, [task("a", "true")])
    scheduler = make_scheduler(wf)
    now = time.time()
    result = JobResult(wf, "a", job_token(wf, "a#1"), True, 0, None, now, now)
    with scheduler._lock:  # as if the loop were in a step
        done = threading.Event()
        threading.Thread(target=lambda: (scheduler.deliver(result), done.set())).start()
        assert done.wait(5)  # did not wait for the lock
        assert scheduler.results.get_nowait() is result


def test_failing_command_uses_its_retries_then_fails(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    nodes = [
        task("bad", "echo trying; exit 3", retries=2, retry_delay=0.1),
        task("after", "echo never"),
    ]
    wf = submit(store, nodes, [("bad", "after")])
    drive(make_scheduler(wf), finished(store, wf), timeout=20)

    assert store.status(wf) is WorkflowStatus.FAILED
    assert store.node(wf, "bad").status is Status.FAILED
    tries = attempts(store, wf, "bad")
    assert [a.number for a in tries] == [1, 2, 3]
    assert [a.result for a in tries] == ["failed"] * 3
    assert [a.exit_code for a in tries] == [3, 3, 3]
    assert all("exited with code 3" in (a.error or "") for a in tries)
    assert len({a.token for a in tries}) == 3
    for before, after, delay in zip(tries, tries[1:], (0.1, 0.2), strict=False):
        assert after.not_before >= before.ended_at + delay - 1e-6  # type: ignore[operator]
        assert after.started_at >= after.not_before  # type: ignore[operator]
        logged = Path(after.log or "").read_text().splitlines()
        assert logged.count("trying") == 1  # one log per attempt
    # downstream never ran
    assert store.node(wf, "after").status is Status.OPEN
    assert attempts(store, wf, "after") == []
    check_event_seqs(store, wf)


def test_max_seconds_kills_and_min_seconds_fails(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    nodes = [task("slow", "sleep 30", max_seconds=0.5), task("quick", "true", min_seconds=5)]
    wf = submit(store, nodes)
    began = time.monotonic()
    drive(make_scheduler(wf), finished(store, wf), timeout=15)
    assert time.monotonic() - began < 15

    assert store.status(wf) is WorkflowStatus.FAILED
    (slow,) = attempts(store, wf, "slow")
    assert store.node(wf, "slow").status is Status.FAILED
    assert slow.result == "failed"
    assert "timed out" in (slow.error or "") and "max_seconds 0.5" in (slow.error or "")
    assert slow.exit_code is not None and slow.exit_code < 0  # killed by a signal
    (quick,) = attempts(store, wf, "quick")
    assert store.node(wf, "quick").status is Status.FAILED
    assert quick.exit_code == 0
    assert "below min_seconds 5" in (quick.error or "")


def test_named_limit_is_shared_across_workflows(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    store.set_limit("nuke_license", 1)
    workflows = [
        submit(
            store,
            [task(f"comp{i}", "sleep 0.3", limits=["nuke_license"]) for i in range(3)],
            name=f"shot{w}",
        )
        for w in range(2)
    ]
    scheduler = make_scheduler(*workflows, slots=4)
    drive(scheduler, finished(store, *workflows), timeout=30)

    intervals = []
    for wf in workflows:
        assert store.status(wf) is WorkflowStatus.SUCCEEDED
        for i in range(3):
            (att,) = attempts(store, wf, f"comp{i}")
            assert att.started_at is not None and att.ended_at is not None
            intervals.append((att.started_at, att.ended_at))
    intervals.sort()
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert start >= end, f"two holders of a 1-slot limit at once: {intervals}"
    assert [row.used for row in store.limits() if row.name == "nuke_license"] == [0]


# -- people acting on running nodes ---------------------------------------------------------


def stoppable(name: str, pidfile: Path, *first: str) -> Planned:
    """A node that writes its pid, then sleeps until killed."""
    return task(name, "; ".join([*first, f"echo $$ > {pidfile}", "exec sleep 30"]))


def wait_running(store: Store, wf: str, name: str, pidfile: Path) -> tuple[str, int]:
    pid = wait_until(lambda: read_pid(pidfile), timeout=10, what=f"{name} to start")
    node = store.node(wf, name)
    assert node.status is Status.RUNNING and node.live_token is not None
    return node.live_token, pid


def stale_recorded(store: Store, wf: str, token: str) -> Callable[[], bool]:
    def check() -> bool:
        return any(
            e.type == "stale-result" and e.payload.get("token") == token for e in store.events(wf)
        )

    return check


@pytest.mark.parametrize("tell", [True, False], ids=["applied", "noticed"])
@pytest.mark.parametrize("action", ["cancel", "skip"])
def test_cancel_or_skip_kills_the_running_attempt(
    store: Store, make_scheduler: MakeScheduler, tmp_path: Path, action: str, tell: bool
) -> None:
    """Told through `apply` (as the API does), or not told at all (housekeeping's dead_tokens)."""
    pidfile = tmp_path / "job.pid"
    wf = submit(store, [stoppable("job", pidfile), task("after", "echo after")], [("job", "after")])
    scheduler = make_scheduler(wf)
    decide = core.cancel if action == "cancel" else core.skip
    with in_thread(scheduler) as served:
        token, pid = wait_running(store, wf, "job", pidfile)
        applied = store.transact(wf, lambda v: decide(v, ["job"], at=time.time()))
        assert applied.outcome is not None and applied.outcome.stop == [("job", token)]
        if tell:
            served.apply(wf, applied.outcome)
        wait_until(lambda: not pid_alive(pid), timeout=10, what="the process to be killed")
        wait_until(stale_recorded(store, wf, token), timeout=10, what="the late result")
        wait_until(finished(store, wf), timeout=10, what="the workflow to settle")

    expected = Status.CANCELED if action == "cancel" else Status.SKIPPED
    assert store.node(wf, "job").status is expected
    (att,) = attempts(store, wf, "job")
    assert att.result == "stopped"
    if action == "cancel":
        assert store.status(wf) is WorkflowStatus.FAILED
        assert attempts(store, wf, "after") == []
    else:  # skipped is ready: downstream runs
        assert store.status(wf) is WorkflowStatus.SUCCEEDED
        assert store.node(wf, "after").status is Status.SUCCEEDED
    # the late "stopped" result changed nothing
    stale = [e for e in store.events(wf) if e.type == "stale-result"]
    assert [(e.old, e.new) for e in stale] == [(expected, expected)]
    check_event_seqs(store, wf)


def test_an_expired_workflow_stops_its_running_attempts_and_runs_nothing_more(
    store: Store, make_scheduler: MakeScheduler, tmp_path: Path
) -> None:
    """Spec: an expired workflow's running attempts are stopped (its ttl ran out)."""
    pidfile = tmp_path / "job.pid"
    nodes = [stoppable("job", pidfile), task("after", "true"), task("later", "sleep 30")]
    expires = time.time() + 3.0
    wf = store.submit(
        nodes, [("job", "after")], name="wf", metadata={}, actor="t", at=time.time(),
        expires_at=expires,
    )  # fmt: skip
    other = submit(store, [task("elsewhere", "true")])  # no ttl: unaffected
    scheduler = make_scheduler(wf, other, slots=2)
    with in_thread(scheduler):
        token, pid = wait_running(store, wf, "job", pidfile)
        wait_until(lambda: not pid_alive(pid), timeout=15, what="the expiry to kill the job")
        wait_until(stale_recorded(store, wf, token), timeout=10, what="the late result")
        wait_until(finished(store, wf), timeout=10, what="the workflow to settle")
        wait_until(finished(store, other), timeout=10, what="the other workflow")

    assert store.node(wf, "job").status is Status.CANCELED
    (att,) = attempts(store, wf, "job")
    assert att.result == "stopped"
    assert attempts(store, wf, "after") == []  # never ran
    (expire,) = [e for e in store.events(wf) if e.type == "expire"]
    assert expire.actor == "engine" and expire.at >= expires
    assert expire.payload["canceled"] >= 1
    assert store.node(other, "elsewhere").status is Status.SUCCEEDED
    assert store.workflows_with_work(time.time()) == []
    assert store.expired_running(time.time()) == []
    check_event_seqs(store, wf)


@pytest.mark.parametrize("tell", [True, False], ids=["applied", "noticed"])
def test_update_of_a_running_node_reruns_it_with_the_new_config(
    store: Store, make_scheduler: MakeScheduler, tmp_path: Path, tell: bool
) -> None:
    pidfile, out = tmp_path / "job.pid", tmp_path / "out.txt"
    node = stoppable("job", pidfile, f"echo v1 >> {out}")
    wf = submit(store, [node, task("after", "true")], [("job", "after")])
    scheduler = make_scheduler(wf)
    with in_thread(scheduler) as served:
        token, pid = wait_running(store, wf, "job", pidfile)
        patch = {"commands": [f"echo v2 >> {out}"]}
        applied = store.transact(wf, lambda v: core.update(v, ["job"], patch, at=time.time()))
        assert applied.outcome is not None
        if tell:
            served.apply(wf, applied.outcome)
        wait_until(lambda: not pid_alive(pid), timeout=10, what="the old attempt to be killed")
        wait_until(finished(store, wf), timeout=15, what="the workflow to finish")
        wait_until(stale_recorded(store, wf, token), timeout=10, what="the late result")

    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    assert out.read_text().split() == ["v1", "v2"]
    (snap,) = store.snapshots(wf, "job")
    assert snap.why == "update" and snap.status is Status.RUNNING
    assert [a.result for a in snap.attempts] == ["stopped"]
    rows = store.attempts(wf, "job")
    assert [(r.snapshot, r.attempt.result) for r in rows] == [(1, "stopped"), (None, "succeeded")]
    current = rows[1].attempt
    assert current.token != token
    assert "v2" in Path(current.log or "").read_text()
    check_event_seqs(store, wf)


def test_retry_of_a_succeeded_root_reruns_the_whole_graph(
    store: Store, make_scheduler: MakeScheduler, tmp_path: Path
) -> None:
    runs = tmp_path / "runs.txt"
    wf = submit(store, [task(n, f"echo {n} >> {runs}") for n in "abcd"], DIAMOND)
    scheduler = make_scheduler(wf)
    drive(scheduler, finished(store, wf))
    assert store.status(wf) is WorkflowStatus.SUCCEEDED

    applied = store.transact(wf, lambda v: core.retry(v, ["a"], at=time.time()))
    assert applied.outcome is not None
    assert sorted(applied.outcome.cascaded) == ["b", "c", "d"]
    scheduler.apply(wf, applied.outcome)
    assert store.status(wf) is WorkflowStatus.RUNNING
    drive(scheduler, finished(store, wf))

    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    order = runs.read_text().split()
    assert Counter(order) == dict.fromkeys("abcd", 2)
    second = order[4:]
    assert second[0] == "a" and second[-1] == "d"
    for name in "abcd":
        (snap,) = store.snapshots(wf, name)
        assert snap.status is Status.SUCCEEDED
        assert snap.why == ("retry" if name == "a" else "cascade")
        assert snap.caused_by == (None if name == "a" else "a")
        assert [a.result for a in snap.attempts] == ["succeeded"]
        rows = store.attempts(wf, name)
        kept = [(r.snapshot, r.attempt.result) for r in rows]
        assert kept == [(1, "succeeded"), (None, "succeeded")]
    check_event_seqs(store, wf)


# -- email nodes -----------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("STORM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("STORM_SMTP_PORT", str(port))
    monkeypatch.delenv("STORM_MAIL_OUTBOX", raising=False)
    try:
        yield inbox
    finally:
        controller.stop()


def notify_workflow(store: Store) -> str:
    notify = Planned(
        "notify",
        kind="email",
        config={
            "addresses": ["artist@example.com"],
            "subject": "Done: ${workflow-name} ${status}",
            "body": "Workflow ${workflow-id} node ${node-name} finished with ${status}.",
        },
    )
    return submit(store, [task("render", "true"), notify], [("render", "notify")], name="nightly")


def test_email_node_sends_through_smtp(
    store: Store, make_scheduler: MakeScheduler, smtp_inbox: Inbox
) -> None:
    wf = notify_workflow(store)
    drive(make_scheduler(wf), finished(store, wf))

    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    (envelope,) = smtp_inbox.envelopes
    assert envelope.rcpt_tos == ["artist@example.com"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"] == "Done: nightly succeeded"
    body = message.get_content()
    assert f"Workflow {wf} node notify finished with succeeded." in body


def test_email_node_without_smtp_writes_to_the_data_directory_outbox(
    store: Store, make_scheduler: MakeScheduler, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("STORM_SMTP_HOST", raising=False)
    monkeypatch.delenv("STORM_MAIL_OUTBOX", raising=False)
    wf = notify_workflow(store)
    drive(make_scheduler(wf), finished(store, wf))

    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    (eml,) = (tmp_path / "data" / "outbox").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "Done: nightly succeeded"
    (att,) = attempts(store, wf, "notify")
    assert att.error is None and att.log is not None
    assert f"written to {eml} (no SMTP server configured" in Path(att.log).read_text()


# -- duplicate and stale results -------------------------------------------------------------


class HeldExecutor:
    """Takes jobs and never runs them: the test delivers the results itself."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.done: set[str] = set()
        self.stopped: list[str] = []
        self.abandoned: list[str] = []

    def submit(self, job: Job) -> None:
        self.jobs.append(job)

    def stop(self, token: str) -> None:
        self.stopped.append(token)

    def free_slots(self) -> int:
        return 4 - len(self.running())

    def running(self) -> list[str]:
        return [j.token for j in self.jobs if j.token not in self.done]

    def close(self, grace: float) -> None:
        pass

    def abandon(self, tokens: list[str]) -> None:
        self.abandoned.extend(tokens)


def test_a_dead_schedulers_attempts_are_abandoned_then_recovered_at_once(
    store: Store, tmp_path: Path
) -> None:
    """A scheduler starting on the host of a dead one asks its executor to stop the dead
    one's attempts (remote ones run on after their scheduler died) before retrying them."""
    import subprocess

    wf = submit(store, [task("a", "sleep 30")])
    applied = store.transact(wf, lambda v: core.run(v, "a", at=time.time()))
    assert applied.outcome is not None
    token = applied.outcome.start[0][1].token
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid no process has any more
    dead = f"{socket.gethostname()}:{gone.pid}:dead01"
    assert store.claim(wf, "a", token, owner=dead, now=time.time(), lease_seconds=60) is not None
    executor = HeldExecutor()
    scheduler = Scheduler(store, Settings(data_dir=tmp_path / "data"), executor)
    try:
        assert executor.abandoned == [job_token(wf, token)]
        assert store.lease_owners() == [dead]  # released (expired now), not yet recorded lost
        scheduler.step()  # housekeeping: lost, retried at once
        (lost, retry) = attempts(store, wf, "a")
        assert lost.result == "lost" and retry.result is None
    finally:
        scheduler.close(grace=0.5)


def test_duplicate_result_changes_nothing(store: Store, tmp_path: Path) -> None:
    wf = submit(store, [task("a", "true"), task("b", "true")], [("a", "b")])
    executor = HeldExecutor()
    scheduler = Scheduler(store, Settings(data_dir=tmp_path, workflows={wf}), executor)

    def step_until(cond: Callable[[], Any]) -> None:
        deadline = time.monotonic() + 10
        while not cond():
            assert time.monotonic() < deadline, "scheduler made no progress"
            scheduler.step(wait=0.01)

    step_until(lambda: len(executor.jobs) == 1)
    (job,) = executor.jobs
    assert job.token == job_token(wf, "a#1")
    now = time.time()
    result = JobResult(wf, "a", job.token, True, 0, None, started_at=now, ended_at=now)
    scheduler.results.put(result)
    step_until(lambda: len(executor.jobs) == 2)  # a succeeded, b dispatched
    assert store.node(wf, "a").status is Status.SUCCEEDED
    seen = store.events(wf)

    # the same result again, and the same token reported as failed: each is recorded in
    # the event log as a stale result (spec: Procedural transitions) and changes nothing
    scheduler.results.put(result)
    scheduler.results.put(JobResult(wf, "a", job.token, False, 1, "boom", now, now))
    step_until(lambda: scheduler.results.empty())
    for _ in range(3):
        scheduler.step(wait=0.01)
    later = store.events(wf)
    assert later[: len(seen)] == seen
    assert [(e.type, e.node) for e in later[len(seen) :]] == [("stale-result", "a")] * 2
    assert store.node(wf, "a").status is Status.SUCCEEDED
    assert [(a.result, a.exit_code) for a in attempts(store, wf, "a")] == [("succeeded", 0)]
    assert len(executor.jobs) == 2

    # a result for a token that was never live is recorded as stale and changes nothing
    ghost = JobResult(wf, "a", job_token(wf, "a#9"), True, 0, None, now, now)
    scheduler.results.put(ghost)
    step_until(lambda: scheduler.results.empty())
    new = store.events(wf, after_seq=later[-1].seq)
    assert [(e.type, e.old, e.new) for e in new] == [
        ("stale-result", Status.SUCCEEDED, Status.SUCCEEDED)
    ]
    assert store.node(wf, "a").status is Status.SUCCEEDED
    check_event_seqs(store, wf)
    scheduler.close(grace=0.1)


def test_every_result_delivered_twice_still_runs_each_node_once(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    wf = submit(store, [task(n, "true") for n in "abcd"], DIAMOND)
    scheduler = make_scheduler(wf)

    def twice(result: JobResult) -> None:
        scheduler.results.put(result)
        scheduler.results.put(result)

    scheduler.executor.close(grace=0.1)  # replaced: its supervisor connection is not kept
    scheduler.executor = LocalExecutor(twice, slots=2)
    drive(scheduler, finished(store, wf))

    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    events = store.events(wf)
    assert Counter(e.node for e in events if e.type == "succeed") == dict.fromkeys("abcd", 1)
    for name in "abcd":
        assert len(attempts(store, wf, name)) == 1
    check_event_seqs(store, wf)


# -- status reads the loop relies on ---------------------------------------------------------


def test_status_is_read_from_one_snapshot(store: Store) -> None:
    """`run_workflows`/`storm run` stop when status() says not running: it must never lie.

    A run committed between status()'s two statements (node counts, then runnable nodes)
    used to be seen half: b counted open, but no longer runnable -> "holding". The status
    is now kept on the workflow's row by every transaction: one read, whatever commits
    right after it.
    """
    wf = submit(store, [task("a", "true"), task("b", "true")], [("a", "b")])
    store.transact(wf, lambda v: core.run_ready(v, ["a"], at=1.0))
    store.transact(wf, lambda v: core.succeed(v, "a", "a#1", at=2.0))
    armed = True

    def meanwhile(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal armed
        if armed and "FROM workflows" in statement:
            armed = False  # another process runs b between the two reads
            store.transact(wf, lambda v: core.run_ready(v, ["b"], at=3.0))

    sqlalchemy.event.listen(store.engine, "after_cursor_execute", meanwhile)
    try:
        assert store.status(wf) is WorkflowStatus.RUNNING
    finally:
        sqlalchemy.event.remove(store.engine, "after_cursor_execute", meanwhile)
    assert not armed
    assert store.node(wf, "b").status is Status.RUNNING


def test_results_that_could_not_be_applied_go_back_to_the_queue(
    store: Store, make_scheduler: MakeScheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    wf = submit(store, [task("a", "true")])
    scheduler = make_scheduler(wf)
    now = time.time()
    results = [JobResult(wf, "a", job_token(wf, f"a#{i}"), True, 0, None, now, now) for i in (1, 2)]

    def broken(_workflow_id: str, _results: list[JobResult]) -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr(scheduler, "_advance", broken)
    scheduler.results.put(results[1])
    scheduler._apply_results(results[0])  # no raise: that workflow waits, the loop goes on
    assert scheduler.results.empty() and scheduler._held[wf] == results
    assert scheduler.stats.errors == 1 and "went away" in (scheduler.stats.last_error or "")
    scheduler._paused[wf] = (0.0, 0.1)  # its wait is over
    scheduler._resume_paused()
    assert [scheduler.results.get_nowait() for _ in range(2)] == results


def test_a_result_arriving_with_every_slot_busy_still_runs_what_it_made_ready(
    store: Store, tmp_path: Path
) -> None:
    """Slots only limit what is claimed: the runs a result enables are recorded at once."""
    wf = submit(store, [task("a", "true"), task("b", "true")], [("a", "b")])
    executor = HeldExecutor()
    scheduler = Scheduler(store, Settings(data_dir=tmp_path / "data", workflows={wf}), executor)
    try:
        scheduler.step()
        (job,) = executor.jobs
        executor.done.add(job.token)  # a finished: its slot is free, and taken at once
        executor.jobs += [Job(wf, f"x{i}", f"{wf}/x{i}", "task") for i in range(4)]
        assert executor.free_slots() == 0
        now = time.time()
        scheduler._advance(wf, [JobResult(wf, "a", job.token, True, 0, None, now, now)])
        assert store.node(wf, "b").status is Status.RUNNING  # run, waiting for a slot
        assert len(executor.jobs) == 5  # nothing more sent
    finally:
        scheduler.close(grace=0.5)
