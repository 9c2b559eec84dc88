"""The wait mechanism in-process (engine/waits.py) against real provider processes, on SQLite
and PostgreSQL: convergence of simultaneous results, idempotent resubmits, command providers."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from stormflow.engine.providers import RateLimit, Report, parse_config
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.engine.waits import confirm, finish, idempotency_key
from stormflow.store import Store
from stormflow.store.schema import waits
from stormflow.store.waits import WAITING_OWNER
from tests.engine.helpers import Planned, drive, finished, in_thread, submit, task
from tests.external.conftest import Farm, provider, wait_for


def add(store: Store, config: dict[str, Any]) -> None:
    checked = parse_config(config)
    store.put_provider(
        checked.name,
        checked.kind,
        checked.public(),
        at=time.time(),
        max_concurrent=checked.max_concurrent,
    )


def external(name: str, provider_name: str = "farm", **request: Any) -> Planned:
    return Planned(name, "external", config={"provider": provider_name, "request": request})


def scheduler(store: Store, tmp_path: Path) -> Scheduler:
    return Scheduler(store, Settings(data_dir=tmp_path, supervised=False), slots=2)


def test_a_waiting_attempt_holds_no_slot_and_its_downstream_runs(
    store: Store, farm: Farm, tmp_path: Path
) -> None:
    add(store, provider(farm, poll=[0.2]))
    wf = submit(
        store,
        [
            external("render", seconds=0.5, callbacks="lose"),
            task("after", "true"),
            task("side", "true"),
        ],
        [("render", "after")],
    )
    sched = scheduler(store, tmp_path)
    try:
        drive(sched, finished(store, wf))
    finally:
        sched.close()
    statuses = {n.name: n.status.value for n in store.nodes(wf)}
    assert statuses == {"render": "succeeded", "after": "succeeded", "side": "succeeded"}
    (wait,) = store.waits_of(wf)
    assert wait.ended_by == "poll" and wait.outputs == {
        "movie": f"/renders/{wait.external_id}.mp4",
        "frames": 3,
    }
    assert wait.idempotency_key == idempotency_key(wf, wait.token)
    assert sched.executor.running() == []  # nothing of the wait ever sat on the executor


def test_simultaneous_results_one_write_one_no_op(store: Store, farm: Farm, tmp_path: Path) -> None:
    add(store, provider(farm, poll=[60]))
    wf = submit(store, [external("render", seconds=60, callbacks="lose")])
    sched = scheduler(store, tmp_path)
    with in_thread(sched):
        wait = wait_for(lambda: next((w for w in store.waits_of(wf) if w.external_id), None))
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def arrive(source: str) -> None:
        barrier.wait()
        report = Report("succeeded", wait.external_id, 1.0, {"frames": 3})
        outcomes.append((source, finish(store, wait, report, source=source, at=time.time())))

    threads = [threading.Thread(target=arrive, args=(s,)) for s in ("webhook", "poll")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    results = [e for e in store.events(wf) if e.type == "external-result"]
    assert sorted(e.payload["applied"] for e in results) == [False, True]
    assert [e.type for e in store.events(wf)].count("succeed") == 1
    assert [e.type for e in store.events(wf)].count("stale-result") == 1
    assert store.wait(wf, wait.token).state == "done"


def test_a_submit_whose_confirmation_was_lost_is_made_again_with_the_same_key(
    store: Store, farm: Farm, tmp_path: Path
) -> None:
    add(store, provider(farm, poll=[0.2]))
    wf = submit(store, [external("render", seconds=1.0, callbacks="lose")])
    sched = scheduler(store, tmp_path)
    with in_thread(sched):
        wait = wait_for(lambda: next((w for w in store.waits_of(wf) if w.external_id), None))
        with store.write() as conn:  # as if the scheduler died before recording the job id
            conn.execute(
                update(waits)
                .where(waits.c.workflow_id == wf)
                .values(state="submitting", external_id=None, next_poll=0.0)
            )
        wait_for(finished(store, wf), 20, "the workflow")
    stats = farm.stats()
    assert (stats["submits"], stats["repeats"]) == (1, 1)  # the provider saw the same key
    assert store.wait(wf, wait.token).external_id == wait.external_id


def test_the_waiting_attempt_lease_belongs_to_no_scheduler(
    store: Store, farm: Farm, tmp_path: Path
) -> None:
    add(store, provider(farm, poll=[60]))
    wf = submit(store, [external("render", seconds=60, callbacks="lose")])
    sched = scheduler(store, tmp_path)
    with in_thread(sched):
        wait_for(lambda: any(w.external_id for w in store.waits_of(wf)))
    assert store.lease_owners() == [WAITING_OWNER]  # close() handed back nothing of it
    assert store.live_tokens(sched.owner) == []


def test_a_command_provider_submits_and_polls_through_its_cli(store: Store, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    submit_py = (
        "import json,sys,os,pathlib;req=json.load(sys.stdin);"
        f"d=pathlib.Path({str(jobs)!r});n=len(list(d.iterdir()))+1;"
        "(d/f'job{n}').write_text(json.dumps(dict(req,key=os.environ['STORM_IDEMPOTENCY_KEY'])));"
        "print(json.dumps({'id':f'job{n}'}))"
    )
    status_py = (
        "import json,sys,pathlib;"
        f"job=json.loads((pathlib.Path({str(jobs)!r})/sys.argv[1]).read_text());"
        "print(json.dumps({'state':'succeeded','progress':1,'outputs':{'frames':job['frames']}}))"
    )
    add(
        store,
        {
            "name": "cli",
            "kind": "command",
            "submit": {"command": [sys.executable, "-c", submit_py]},
            "status": {"command": [sys.executable, "-c", status_py, "${id}"]},
            "poll": [0.1],
        },
    )
    wf = submit(store, [external("deadline", "cli", frames="1-10")])
    sched = scheduler(store, tmp_path)
    try:
        drive(sched, finished(store, wf))
    finally:
        sched.close()
    (wait,) = store.waits_of(wf)
    assert (wait.state, wait.external_id, wait.outputs) == ("done", "job1", {"frames": "1-10"})
    assert "storm-" in (jobs / "job1").read_text()  # the idempotency key reached the CLI


def test_a_failing_job_fails_the_node_with_the_provider_error(
    store: Store, farm: Farm, tmp_path: Path
) -> None:
    add(store, provider(farm, poll=[0.2]))
    wf = submit(store, [external("render", seconds=0.1, fail=True, callbacks="lose")])
    sched = scheduler(store, tmp_path)
    try:
        drive(sched, finished(store, wf))
    finally:
        sched.close()
    (node,) = store.nodes(wf)
    assert node.status.value == "failed"
    fail = next(e for e in store.events(wf) if e.type == "fail")
    assert fail.payload["error"] == "the fake farm failed it"


def test_an_unknown_provider_fails_the_attempt_with_a_clear_reason(
    store: Store, tmp_path: Path
) -> None:
    wf = submit(store, [external("render", "nowhere", seconds=1)])
    sched = scheduler(store, tmp_path)
    try:
        drive(sched, finished(store, wf))
    finally:
        sched.close()
    fail = next(e for e in store.events(wf) if e.type == "fail")
    assert "unknown provider 'nowhere'" in fail.payload["error"]
    assert store.waits_of(wf) == []


def test_the_rate_limit_holds_calls_to_its_rate() -> None:
    limit = RateLimit(5.0)
    taken = sum(limit.take() for _ in range(50))
    assert taken == 5
    time.sleep(0.25)
    assert limit.take()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Bad Name"}, "name:"),
        ({"kind": "ftp"}, "kind:"),
        ({"status": {}}, "need a url"),
        ({"poll": []}, "poll:"),
        ({"submit": {"url": "/jobs", "id": "id"}}, "JSON pointer"),
        ({"headers": {"Authorization": "Bearer ${env:1BAD}"}}, "environment variable"),
        ({"submit": {"url": "/jobs/${secret}"}}, "unknown token"),
        ({"base_url": None}, "base_url"),
        ({"webhook": {"secret_env": "1X"}}, "environment variable"),
    ],
)
def test_a_bad_provider_configuration_names_what_is_wrong(
    farm: Farm, change: dict[str, Any], message: str
) -> None:
    config = {**provider(farm), **change}
    with pytest.raises(ValueError, match=message):
        parse_config(config)


def test_an_early_webhook_is_applied_once_by_concurrent_submit_answers(
    store: Store, farm: Farm, tmp_path: Path
) -> None:
    """A webhook stored as unknown-job before the submit answered: two answers of the same
    submit at once (two schedulers, the same idempotency key) apply it once; the webhook's
    second look (`finish(matched=...)`), finding the job id recorded, changes nothing."""
    add(store, provider(farm, poll=[60]))
    wf = submit(store, [external("render", seconds=60, callbacks="lose")])
    sched = scheduler(store, tmp_path)
    with in_thread(sched):
        waited = wait_for(lambda: next((w for w in store.waits_of(wf) if w.external_id), None))
    job = str(waited.external_id)
    with store.write() as conn:  # back to before the answer: submitting, no job id yet
        conn.execute(
            update(waits)
            .where(waits.c.workflow_id == wf)
            .values(state="submitting", external_id=None, next_poll=time.time() + 600)
        )
    body = f'{{"id": "{job}", "state": "succeeded", "outputs": {{"frames": 3}}}}'
    at = time.time()
    assert store.record_hook_event(
        "farm", "early-1", body, at=at, external_id=job, outcome="unknown-job"
    )
    (event_id,) = [e["id"] for e in store.hook_events("farm")]
    submitting = store.wait(wf, waited.token)
    assert submitting is not None and submitting.state == "submitting"
    # the store's fast path sees the stored event and leaves the answer to `confirm`
    assert store.submitted(wf, waited.token, "farm", job, at=at, next_poll=at + 60) is None
    read = sched.waits.kinds["external"].early_reader(submitting)
    assert read is not None
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def answer() -> None:
        barrier.wait()
        answers.append(confirm(store, submitting, job, at=at, next_poll=at + 60, read=read))

    threads = [threading.Thread(target=answer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(a.waiting for a in answers) == [False, True]
    assert sum(a.outcome is not None for a in answers) == 1
    placed = store.wait_for_job("farm", job)
    assert placed is not None
    report = Report("succeeded", job, 1.0, {"frames": 3})
    assert finish(store, placed, report, source="webhook", at=at, matched=event_id) is None
    results = [e for e in store.events(wf) if e.type == "external-result"]
    assert [e.payload["applied"] for e in results] == [True]
    assert [e.type for e in store.events(wf)].count("succeed") == 1
    done = store.wait(wf, waited.token)
    assert done is not None and (done.state, done.external_id) == ("done", job)
    assert [e["outcome"] for e in store.hook_events("farm")] == ["late-result"]
    sched.close()
