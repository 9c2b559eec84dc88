"""Sub-workflows at run time (issue 15): a `workflow` node starts a child workflow, follows
its derived status, and actions on either side of the boundary behave as docs/lifecycle.md
says; the integrity rule is checked in parent and child after each. SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from stormflow import core
from stormflow.core import Status, WorkflowStatus
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.engine.subworkflows import Subworkflows
from stormflow.store import Store
from stormflow.store.children import reported_statuses
from stormflow.store.schema import workflows
from tests.engine.helpers import drive, finished, in_thread, submit, task, wait_until
from tests.engine.subworkflow_helpers import (
    PY,
    child_doc,
    child_of,
    exit_command,
    integrity,
    node,
    parent,
    shot,
    sleep_command,
)

MakeScheduler = Callable[..., Scheduler]
OK = [PY, "-c", "pass"]


@pytest.fixture
def make_scheduler(store: Store, tmp_path: Path) -> Iterator[MakeScheduler]:
    made: list[Scheduler] = []

    def make(*workflow_ids: str, slots: int = 4, **settings: Any) -> Scheduler:
        scheduler = Scheduler(
            store,
            Settings(
                data_dir=tmp_path / "data",
                workflows=set(workflow_ids),
                supervised=False,
                housekeeping_every=0.05,
                **settings,
            ),
            slots=slots,
        )
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.close(grace=1.0)


def status(store: Store, workflow_id: str, name: str) -> Status:
    return store.node(workflow_id, name).status


def act(store: Store, workflow_id: str, action: str, names: list[str], **kw: Any) -> core.Outcome:
    applied = store.transact(
        workflow_id, lambda view: core.act(view, action, names, at=0.0, actor="tester", **kw)
    )
    assert applied.outcome is not None
    return applied.outcome


def test_a_child_runs_as_a_workflow_of_its_own_and_its_parent_node_follows_it(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    doc = child_doc([node("a", OK), node("b", OK)], [["a", "b"]])
    wf = parent(store, doc)
    drive(make_scheduler(wf), finished(store, wf))
    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    child = child_of(store, wf)
    assert store.status(child) is WorkflowStatus.SUCCEEDED
    assert {n.name: n.status for n in store.nodes(child)} == {
        "a": Status.SUCCEEDED,
        "b": Status.SUCCEEDED,
    }
    link = store.parent_of(child)
    assert link is not None and (link.parent_id, link.node) == (wf, "shot")
    assert store.workflow(child).name == "seq/shot"
    assert [c.child_id for c in store.children(wf)] == [child]
    types = [e.type for e in store.events(wf) if e.node == "shot"]
    assert types == ["run", "attempt-started", "child-started", "succeed"]
    integrity(store, wf, child)


def test_a_failed_child_fails_its_parent_node_and_a_retry_inside_reopens_it(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    doc = child_doc([node("render", exit_command(3)), node("comp", OK)], [["render", "comp"]])
    wf = parent(store, doc)
    scheduler = make_scheduler(wf)
    drive(scheduler, finished(store, wf))
    child = child_of(store, wf)
    assert status(store, wf, "shot") is Status.FAILED
    assert store.status(wf) is WorkflowStatus.FAILED
    assert status(store, wf, "after") is Status.OPEN
    integrity(store, wf, child)
    # fix the render inside the child: the child runs again, so does the parent node
    act(store, child, "update", ["render"], patch={"commands": [OK]})
    scheduler.rescan()
    drive(scheduler, lambda: status(store, wf, "after") is Status.SUCCEEDED)
    assert store.status(child) is WorkflowStatus.SUCCEEDED
    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    types = [e.type for e in store.events(wf) if e.node == "shot"]
    assert types[-4:] == ["fail", "reopen", "attempt-started", "succeed"]
    shot = store.node(wf, "shot")
    assert len(shot.attempts) == 2  # the reopened run follows the same child
    assert [c.child_id for c in store.children(wf)] == [child]
    integrity(store, wf, child)


def test_an_action_inside_a_succeeded_child_reopens_its_parent_node_and_cascades_below(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    doc = child_doc([node("render", OK), node("comp", OK)], [["render", "comp"]])
    wf = parent(store, doc)
    scheduler = make_scheduler(wf)
    drive(scheduler, finished(store, wf))
    child = child_of(store, wf)
    assert status(store, wf, "after") is Status.SUCCEEDED
    # cancel the succeeded comp inside the child: the child fails; its parent node leaves
    # succeeded, so `after` (started below it) is cascaded back to open, then shot fails
    act(store, child, "cancel", ["comp"])
    drive(scheduler, lambda: status(store, wf, "shot") is Status.FAILED, timeout=10)
    after = store.node(wf, "after")
    assert after.status is Status.OPEN
    assert after.snapshot_count == 1
    assert store.snapshots(wf, "after")[0].caused_by == "shot"
    integrity(store, wf, child)


def test_cancel_of_the_parent_node_cancels_the_childs_running_nodes(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    doc = child_doc([node("render", sleep_command(30))])
    wf = parent(store, doc)
    with in_thread(make_scheduler(wf)) as served:
        wait_until(lambda: store.node_children(wf, ["shot"]), what="the child")
        child = child_of(store, wf)
        wait_until(lambda: status(store, child, "render") is Status.RUNNING, what="render")
        served.apply(wf, act(store, wf, "cancel", ["shot"]))
        wait_until(lambda: status(store, child, "render") is Status.CANCELED, what="stopped")
    assert status(store, wf, "shot") is Status.CANCELED
    assert store.status(child) is WorkflowStatus.FAILED
    assert "parent-stopped" in [e.type for e in store.events(child)]
    integrity(store, wf, child)


def test_skip_of_the_parent_node_cancels_the_child_and_lets_downstream_run(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    doc = child_doc([node("render", sleep_command(30))])
    wf = parent(store, doc)
    with in_thread(make_scheduler(wf)) as served:
        wait_until(lambda: store.node_children(wf, ["shot"]), what="the child")
        child = child_of(store, wf)
        wait_until(lambda: status(store, child, "render") is Status.RUNNING, what="render")
        served.apply(wf, act(store, wf, "skip", ["shot"]))
        wait_until(lambda: status(store, child, "render") is Status.CANCELED, what="stopped")
        wait_until(lambda: status(store, wf, "after") is Status.SUCCEEDED, what="after")
    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    integrity(store, wf, child)


def test_retry_of_the_parent_node_snapshots_it_and_starts_a_new_child(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    doc = child_doc([node("render", sleep_command(30))])
    wf = parent(store, doc)
    with in_thread(make_scheduler(wf)) as served:
        wait_until(lambda: store.node_children(wf, ["shot"]), what="the child")
        old = child_of(store, wf)
        wait_until(lambda: status(store, old, "render") is Status.RUNNING, what="render")
        served.apply(
            wf,
            act(store, wf, "update", ["shot"], patch={"template": child_doc([node("render", OK)])}),
        )
        wait_until(lambda: status(store, wf, "after") is Status.SUCCEEDED, what="after")
        wait_until(lambda: status(store, old, "render") is Status.CANCELED, what="old stopped")
    new = child_of(store, wf)
    assert new != old
    assert [c.child_id for c in store.children(wf)] == [old, new]
    # the snapshot keeps the old attempt, which names the old child
    snap = store.snapshots(wf, "shot")[0]
    assert snap.why == "update"
    assert snap.attempts[-1].worker == f"child {old}"
    old_link = store.parent_of(old)
    assert old_link is not None and old_link.token == snap.attempts[-1].token
    assert not old_link.current
    assert store.children_by_token(wf, "shot")[snap.attempts[-1].token] == old
    assert store.status(old) is WorkflowStatus.FAILED  # readable, with its history
    integrity(store, wf, old, new)


def test_a_child_left_holding_keeps_its_parent_node_running_and_the_parent_holding(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    doc = child_doc(
        [node("render", OK), {**node("comp", OK), "status": "holding"}], [["render", "comp"]]
    )
    wf = parent(store, doc)
    scheduler = make_scheduler(wf)
    drive(scheduler, finished(store, wf))
    child = child_of(store, wf)
    assert store.status(child) is WorkflowStatus.HOLDING
    assert status(store, wf, "shot") is Status.RUNNING
    assert store.status(wf) is WorkflowStatus.HOLDING  # reported; the node stays running
    assert [w.status for w in store.workflows() if w.id == wf] == ["holding"]
    held = [e for e in store.events(wf) if e.type == "child-status"]
    assert held and held[-1].payload["status"] == "holding"
    act(store, child, "unhold", ["comp"])
    scheduler.rescan()
    drive(scheduler, finished(store, wf))
    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    integrity(store, wf, child)


def test_a_grandchild_left_holding_makes_every_workflow_above_it_report_holding(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    leaf = child_doc(
        [node("render", OK), {**node("comp", OK), "status": "holding"}],
        [["render", "comp"]],
        name="leaf",
    )
    middle = child_doc([{"name": "sub", "kind": "workflow", "template": leaf}], name="mid")
    wf = parent(store, middle)
    scheduler = make_scheduler(wf)
    drive(scheduler, finished(store, wf))
    mid = child_of(store, wf)
    low = child_of(store, mid, "sub")
    assert store.status(low) is WorkflowStatus.HOLDING
    assert status(store, mid, "sub") is Status.RUNNING
    assert status(store, wf, "shot") is Status.RUNNING
    # stored: running (their nodes follow); reported: holding, at every depth
    assert store.status(mid) is WorkflowStatus.HOLDING
    assert store.status(wf) is WorkflowStatus.HOLDING
    listed = {w.id: w.status for w in store.workflows()}
    assert listed[wf] == listed[mid] == "holding"
    integrity(store, wf, mid, low)
    # the top node was told too: its child is holding (through the grandchild)
    drive(scheduler, lambda: any(e.type == "child-status" for e in store.events(wf)))
    told = [e.payload["status"] for e in store.events(wf) if e.type == "child-status"]
    assert told[-1] == "holding"
    # a second running node beside the held one: the parent makes progress, it runs
    with store.read() as conn:
        rows = {mid: ("running", {Status.RUNNING: 2})}
        assert reported_statuses(conn, rows) == {}
    act(store, low, "unhold", ["comp"])
    scheduler.rescan()
    drive(scheduler, finished(store, wf))
    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    assert store.status(mid) is WorkflowStatus.SUCCEEDED
    integrity(store, wf, mid, low)


def test_a_workflow_node_not_started_yet_counts_as_itself_in_the_rollup(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    doc = child_doc([node("render", OK), node("comp", OK)], [["render", "comp"]])
    gate = replace(task("gate", OK), status="holding")
    wf = submit(store, [shot("shot1", doc), gate, shot("shot2", doc)], [("gate", "shot2")])
    scheduler = make_scheduler(wf)
    drive(scheduler, finished(store, wf))
    assert status(store, wf, "shot1") is Status.SUCCEEDED
    assert status(store, wf, "shot2") is Status.OPEN  # behind the held gate: no child yet
    rollup = {s: n for s, n in store.rollup(wf).items() if n}
    # gate (holding), shot2 (open, itself), shot1's child's two nodes (succeeded)
    assert rollup == {Status.HOLDING: 1, Status.OPEN: 1, Status.SUCCEEDED: 2}
    integrity(store, wf, child_of(store, wf, "shot1"))
    act(store, wf, "unhold", ["gate"])
    scheduler.rescan()
    drive(scheduler, finished(store, wf))
    assert {s: n for s, n in store.rollup(wf).items() if n} == {
        Status.SUCCEEDED: 5
    }  # gate, and each child's two nodes
    integrity(store, wf, child_of(store, wf, "shot1"), child_of(store, wf, "shot2"))


def test_shots_claimed_together_start_their_children_together_one_stopped_meanwhile_gets_none(
    store: Store, make_scheduler: MakeScheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = child_doc([node("a", OK)])
    wf = submit(store, [shot(f"shot{i}", doc) for i in range(3)], [])
    groups: list[int] = []
    original = Subworkflows.start_many

    def start_many(self: Subworkflows, workflow_id: str, claimed: Any) -> int:
        groups.append(len(claimed))
        if workflow_id == wf and len(groups) == 1:  # stopped after its claim, before its child
            act(store, wf, "cancel", ["shot1"])
        return original(self, workflow_id, claimed)

    monkeypatch.setattr(Subworkflows, "start_many", start_many)
    scheduler = make_scheduler(wf, slots=1)  # children take no slot: all three at once
    drive(scheduler, finished(store, wf))
    assert groups == [3]
    assert status(store, wf, "shot1") is Status.CANCELED
    assert status(store, wf, "shot0") is status(store, wf, "shot2") is Status.SUCCEEDED
    children = store.children(wf)
    assert sorted(c.node for c in children) == ["shot0", "shot2"]
    with store.read() as conn:  # the parent and two children: none for the canceled shot
        assert len(conn.execute(workflows.select()).all()) == 3
    integrity(store, wf, *(c.child_id for c in children))


def test_an_invalid_child_document_fails_the_parent_node_and_stores_no_child(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    doc = child_doc([node("a", OK)], [["a", "nowhere"]])
    wf = parent(store, doc, after=False)
    drive(make_scheduler(wf), finished(store, wf))
    assert status(store, wf, "shot") is Status.FAILED
    assert store.children(wf) == []
    failed = [e for e in store.events(wf) if e.type == "fail"]
    assert "invalid child" in str(failed[-1].payload["error"])
    assert "nowhere" in str(failed[-1].payload["error"])
    integrity(store, wf)


ACTIONS = [
    ("parent", "retry", ["shots.s1", "shots.s2"]),
    ("parent", "cancel", ["shots.s3"]),
    ("parent", "skip", ["shots.s4"]),
    ("parent", "retry", ["shots.s3", "shots.s4"]),
    ("child", "retry", ["render"]),
    ("child", "cancel", ["render"]),
    ("child", "retry", ["comp"]),
]


def test_many_concurrent_actions_across_the_boundary_leave_every_workflow_sound(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    """24 threads (more than the store's pool of 15 connections) act on the parent's workflow
    nodes and inside their children while the scheduler starts and follows children."""
    doc = child_doc([node("render", sleep_command(0.2)), node("comp", OK)], [["render", "comp"]])
    shots = [shot(f"shots.s{i}", doc) for i in range(1, 5)]
    wf = submit(store, shots, name="contended")
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        pick = random.Random(seed)
        try:
            for _ in range(4):
                side, action, names = pick.choice(ACTIONS)
                target = wf
                if side == "child":
                    found = store.node_children(wf, [f"shots.s{pick.randint(1, 4)}"])
                    if not found:
                        continue
                    target = next(iter(found.values())).child_id
                with contextlib.suppress(core.LifecycleError):
                    store.transact(
                        target,
                        lambda v, a=action, n=names: core.act(v, a, n, at=0.0, actor="t"),
                    )
                time.sleep(pick.random() * 0.05)
        except BaseException as exc:
            errors.append(exc)

    with in_thread(make_scheduler(wf), timeout=60):
        wait_until(lambda: len(store.children(wf)) >= 2, what="children")
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        # settle: everything stopped by a person runs again, then to the end
        for _ in range(3):
            ids = [wf, *(c.child_id for c in store.children(wf))]
            for target in ids:
                bad = [n.name for n in store.nodes(target) if n.status in (Status.CANCELED,)]
                if bad:
                    store.transact(target, lambda v, b=bad: core.act(v, "retry", b, at=0.0))
            time.sleep(0.5)
        wait_until(finished(store, wf), timeout=30, what="the parent to finish")
    ids = [wf, *(c.child_id for c in store.children(wf))]
    integrity(store, *ids)
    for name in (s.name for s in shots):
        following = [c for c in store.children(wf) if c.node == name and c.current]
        node_now = store.node(wf, name)
        if node_now.status in (Status.SUCCEEDED, Status.FAILED, Status.RUNNING):
            assert following, f"{name} follows no child"
            assert node_now.attempts[-1].worker == f"child {following[-1].child_id}"


def test_archiving_a_followed_child_fails_its_parent_node(
    store: Store, make_scheduler: MakeScheduler
) -> None:
    doc = child_doc([node("render", OK), {**node("comp", OK), "status": "holding"}],
                    [["render", "comp"]])  # fmt: skip
    wf = parent(store, doc)
    scheduler = make_scheduler(wf)
    drive(scheduler, finished(store, wf))
    child = child_of(store, wf)
    assert status(store, wf, "shot") is Status.RUNNING  # the child holds
    store.archive(child, actor="tester", at=0.0)
    drive(scheduler, lambda: status(store, wf, "shot") is Status.FAILED, timeout=10)
    failed = [e for e in store.events(wf) if e.type == "fail"]
    assert f"child workflow {child} was archived" in str(failed[-1].payload["error"])
    integrity(store, wf, child)
