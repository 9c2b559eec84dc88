"""transact: snapshots and attempts move, events, idempotency, atomicity."""

from __future__ import annotations

import pytest

from stormflow import core
from stormflow.core import Status
from stormflow.store import Store, StoreView

from .helpers import Planned, submit


def _run_and_succeed(store: Store, wf: str, name: str, at: float) -> str:
    applied = store.transact(wf, lambda v: core.run(v, name, at=at))
    assert applied.outcome is not None
    token = applied.outcome.start[0][1].token
    store.transact(wf, lambda v: core.succeed(v, name, token, at=at + 1))
    return token


def test_snapshots_take_the_attempts_along(store: Store) -> None:
    wf = submit(store, [Planned("a", config={"retries": 1, "retry_delay": 0}), "b"], [("a", "b")])
    first = store.transact(wf, lambda v: core.run(v, "a", at=2.0)).outcome
    assert first is not None
    t1 = first.start[0][1].token
    second = store.transact(wf, lambda v: core.fail(v, "a", t1, at=3.0, exit_code=2)).outcome
    assert second is not None and second.start  # an automatic retry inside running
    t2 = second.start[0][1].token
    store.transact(wf, lambda v: core.succeed(v, "a", t2, at=4.0))
    tb = _run_and_succeed(store, wf, "b", 5.0)
    applied = store.transact(
        wf, lambda v: core.update(v, ["a"], {"cmd": "new"}, at=7.0, actor="alice")
    )
    assert applied.response["cascaded"] == ["b"]
    a, b = store.node(wf, "a"), store.node(wf, "b")
    assert (a.status, a.patch, a.attempts, a.snapshot_count) == (Status.OPEN, {"cmd": "new"}, (), 1)
    assert (b.status, b.attempts, b.snapshot_count) == (Status.OPEN, (), 1)
    [snap_a] = store.snapshots(wf, "a")
    assert (snap_a.status, snap_a.why, snap_a.actor, snap_a.patch) == (
        Status.SUCCEEDED,
        "update",
        "alice",
        {},
    )
    assert [(x.token, x.result, x.exit_code) for x in snap_a.attempts] == [
        (t1, "failed", 2),
        (t2, "succeeded", 0),
    ]
    [snap_b] = store.snapshots(wf, "b")
    assert (snap_b.why, snap_b.caused_by, [x.token for x in snap_b.attempts]) == (
        "cascade",
        "a",
        [tb],
    )
    # the new run's attempts are the node's; the old ones stay in snapshot 1
    _run_and_succeed(store, wf, "a", 8.0)
    rows = store.attempts(wf, "a")
    assert [(r.attempt.token, r.snapshot) for r in rows] == [(t1, 1), (t2, 1), ("a#3", None)]
    assert store.node(wf, "a").attempts[0].token == "a#3"
    assert store.graph(wf).history("a")[1] == ("snap(1)", {})


def test_events_have_consecutive_seqs_and_the_correlation(store: Store) -> None:
    wf = submit(store, ["a", "b", "c"], [("a", "b"), ("a", "c")])
    other = submit(store, ["a"])
    _run_and_succeed(store, wf, "a", 2.0)
    store.transact(other, lambda v: core.run(v, "a", at=2.0))
    applied = store.transact(
        wf, lambda v: core.skip(v, ["b", "c"], at=5.0, actor="bob"), correlation="req-42"
    )
    assert (applied.first_seq, applied.last_seq) == (4, 5)
    events = store.events(wf)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert [(e.type, e.node, e.correlation, e.actor) for e in events[-2:]] == [
        ("skip", "b", "req-42", "bob"),
        ("skip", "c", "req-42", "bob"),
    ]
    assert [e.seq for e in store.events(other)] == [1, 2]
    assert [e.seq for e in store.events(wf, after_seq=3, limit=1)] == [4]


def test_idempotency_key_replays_the_first_answer(store: Store) -> None:
    wf = submit(store, ["a", "b"])
    first = store.transact(wf, lambda v: core.hold(v, ["a", "b"], at=2.0), idempotency_key="req-1")
    assert not first.replayed and first.response["changed"] == ["a", "b"]
    store.transact(wf, lambda v: core.unhold(v, ["a"], at=3.0))
    again = store.transact(wf, lambda v: core.hold(v, ["a", "b"], at=4.0), idempotency_key="req-1")
    assert again.replayed and again.outcome is None
    assert again.response == first.response
    assert (again.first_seq, again.last_seq) == (first.first_seq, first.last_seq)
    assert store.node(wf, "a").status is Status.OPEN  # the replay changed nothing
    assert len(store.events(wf)) == 4
    assert store.events(wf)[1].idempotency_key == "req-1"


def test_custom_response(store: Store) -> None:
    wf = submit(store, ["a"])
    applied = store.transact(
        wf,
        lambda v: core.hold(v, ["a"], at=2.0),
        idempotency_key="k",
        response=lambda out: {"held": out.changed},
    )
    assert applied.response == {"held": ["a"]}
    replay = store.transact(wf, lambda v: core.hold(v, ["a"], at=2.0), idempotency_key="k")
    assert replay.response == {"held": ["a"]}


def test_an_exception_inside_fn_writes_nothing(store: Store) -> None:
    wf = submit(store, ["a", "b"], [("a", "b")])
    _run_and_succeed(store, wf, "a", 2.0)
    before = store.graph(wf)

    def boom(view: core.GraphView) -> core.Outcome:
        core.retry(view, ["a"], at=9.0)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.transact(wf, boom, idempotency_key="k")
    with pytest.raises(core.ActionRefused):
        store.transact(wf, lambda v: core.hold(v, ["a", "b"], at=9.0, strict=True))
    after = store.graph(wf)
    assert (after.nodes, after.snapshots, after.events) == (
        before.nodes,
        before.snapshots,
        before.events,
    )
    # the key was not used up by the failed request
    assert not store.transact(
        wf, lambda v: core.retry(v, ["a"], at=10.0), idempotency_key="k"
    ).replayed


def test_ineligible_nodes_are_listed(store: Store) -> None:
    wf = submit(store, ["a", Planned("b", status=Status.HOLDING)])
    applied = store.transact(wf, lambda v: core.hold(v, ["a", "b"], at=2.0))
    assert applied.response["changed"] == ["a"]
    assert applied.response["ineligible"] == [
        {"node": "b", "status": "holding", "reason": "cannot hold a holding node"}
    ]


def test_status_matches_the_core(store: Store) -> None:
    wf = submit(store, ["a", "b", Planned("c", status=Status.HOLDING)], [("a", "b")])
    assert store.status(wf) == core.workflow_status(store.graph(wf)) == "running"
    _run_and_succeed(store, wf, "a", 2.0)
    _run_and_succeed(store, wf, "b", 4.0)
    assert store.status(wf) == core.workflow_status(store.graph(wf)) == "holding"
    store.transact(wf, lambda v: core.skip(v, ["c"], at=6.0))
    assert store.status(wf) == core.workflow_status(store.graph(wf)) == "succeeded"
    store.transact(wf, lambda v: core.cancel(v, ["a"], at=7.0))
    assert store.status(wf) == core.workflow_status(store.graph(wf)) == "failed"
    assert store.node(wf, "b").status is Status.OPEN  # cancel withdrew a's readiness


def test_reopening_the_store_keeps_everything(store_url: str) -> None:
    first = Store(store_url)
    wf = submit(first, ["a"])
    first.transact(wf, lambda v: core.run(v, "a", at=2.0))
    first.close()
    second = Store(store_url)  # migrating an up-to-date database is a no-op
    assert second.node(wf, "a").status is Status.RUNNING
    second.close()


def test_prefetched_nodes_are_read_with_the_lock_and_equal_a_fresh_read(store: Store) -> None:
    from stormflow.store.view import Adjacency

    wf = submit(store, ["a", "b", "c"], [("a", "b"), ("b", "c")])
    asked: list[Adjacency] = []

    def wanted(adjacency: Adjacency) -> list[str]:
        asked.append(adjacency)
        return ["b", "ghost", "a", "b"]

    seen: dict[str, core.Node] = {}

    def look(view: core.GraphView) -> core.Outcome:
        assert isinstance(view, StoreView)
        seen.update(view._nodes)  # what the lock's round trip brought
        return core.skip(view, ["c"], at=2.0)

    store.transact(wf, look, prefetch=wanted)  # adjacency not cached yet: nothing prefetched
    assert asked == [] and seen == {}
    store.transact(wf, look, prefetch=wanted)
    assert len(asked) == 1 and asked[0].down["a"] == ("b",)
    assert set(seen) == {"a", "b"}
    assert seen["a"] == store.node(wf, "a") and seen["b"] == store.node(wf, "b")
    assert store.node(wf, "c").status is core.Status.SKIPPED
