from __future__ import annotations

import pytest

from stormflow import core
from stormflow.core import Status
from stormflow.store import Store, UnknownWorkflow

from .helpers import Planned, submit


def test_submit_and_read_back(store: Store) -> None:
    wf = submit(
        store,
        [
            Planned("a", config={"cmd": "x"}),
            Planned("b", kind="render", status=Status.HOLDING, group="b", frames="1-10"),
            Planned("c"),
        ],
        [("a", "b"), ("a", "c")],
        name="shot_010",
    )
    row = store.workflow(wf)
    assert (row.name, row.metadata, row.owner, row.archived) == (
        "shot_010",
        {"by": "test"},
        "tester",
        False,
    )
    assert store.edges(wf) == [("a", "b"), ("a", "c")]
    node = store.node(wf, "b")
    assert (node.status, node.submitted, node.base, node.patch) == (
        Status.HOLDING,
        Status.HOLDING,
        {},
        {},
    )
    assert store.node(wf, "a").current == {"cmd": "x"}
    rows = store.nodes(wf)
    assert [(r.name, r.kind, r.status, r.group, r.frames) for r in rows] == [
        ("a", "task", Status.OPEN, None, None),
        ("b", "render", Status.HOLDING, "b", "1-10"),
        ("c", "task", Status.OPEN, None, None),
    ]
    assert [r.name for r in store.nodes(wf, statuses=["holding"])] == ["b"]
    assert [r.name for r in store.nodes(wf, kinds=["task"], glob="?")] == ["a", "c"]
    assert store.counts(wf) == {Status.OPEN: 2, Status.HOLDING: 1}
    assert store.runnable_nodes(wf) == ["a"]
    assert store.status(wf) == core.workflow_status(store.graph(wf))
    events = store.events(wf)
    assert [(e.seq, e.type, e.actor) for e in events] == [(1, "submit", "tester")]
    assert [w.id for w in store.workflows(name_glob="shot_*")] == [wf]
    assert store.workflows(name_glob="shot?") == []


def test_submit_refuses_bad_graphs(store: Store) -> None:
    with pytest.raises(ValueError, match="cycle"):
        submit(store, ["a", "b"], [("a", "b"), ("b", "a")])
    with pytest.raises(ValueError, match="unknown node"):
        submit(store, ["a"], [("a", "z")])
    assert store.workflows() == []


def test_unknown_workflow(store: Store) -> None:
    with pytest.raises(UnknownWorkflow):
        store.transact("nope", lambda v: core.run(v, "a", at=1.0))
    with pytest.raises(UnknownWorkflow):
        store.workflow("nope")


def test_submit_idempotency_key(store: Store) -> None:
    first = submit(store, ["a"], idempotency_key="k1")
    again = submit(store, ["a"], idempotency_key="k1")
    assert first == again
    assert len(store.workflows()) == 1


def test_archive(store: Store) -> None:
    wf = submit(store, ["a"])
    assert store.workflows_with_work() == [wf]
    store.archive(wf, actor="me", at=5.0)
    assert store.workflows() == []
    assert [w.id for w in store.workflows(archived=True)] == [wf]
    assert store.workflows_with_work() == []
    assert store.events(wf)[-1].type == "archive"
