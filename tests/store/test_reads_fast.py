"""The store's light paths answer exactly as the full ones: `StoreView.status`, lazily
decoded configurations, the capped summary, and the runnable/status reads searched from
either side."""

from __future__ import annotations

import pytest

from stormflow import core
from stormflow.core import READY, GraphView, Outcome, Status
from stormflow.store import Store, StoreView, summarize
from stormflow.store import view as view_module
from stormflow.store.records import SUMMARY_LIMIT
from stormflow.store.view import LazyJson

from .helpers import Planned, submit


def _run_and_succeed(store: Store, wf: str, name: str, at: float) -> None:
    applied = store.transact(wf, lambda v: core.run(v, name, at=at))
    assert applied.outcome is not None
    token = applied.outcome.start[0][1].token
    store.transact(wf, lambda v: core.succeed(v, name, token, at=at + 1))


def _fan(store: Store, width: int) -> tuple[str, list[str]]:
    """root -> width children -> sink."""
    kids = [f"k{i:04d}" for i in range(width)]
    edges = [("root", k) for k in kids] + [(k, "sink") for k in kids]
    return submit(store, ["root", *kids, "sink"], edges), kids


@pytest.fixture(params=["batch", "paged", "single"])
def status_loading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """ "paged": batch loading, one status on the first page and two on the next ones (so
    most reads cross a page)."""
    mode = str(request.param)
    monkeypatch.setattr(view_module, "STATUS_LOADING", "single" if mode == "single" else "batch")
    if mode == "paged":
        monkeypatch.setattr(view_module, "STATUS_PAGE", 2)
        monkeypatch.setattr(view_module, "FIRST_STATUS_PAGE", 1)
    return mode


def test_status_agrees_with_node(store: Store, status_loading: str) -> None:
    wf, kids = _fan(store, 12)
    _run_and_succeed(store, wf, "root", 2.0)
    for i, kid in enumerate(kids[:6]):
        _run_and_succeed(store, wf, kid, 3.0 + i)
    store.transact(wf, lambda v: core.skip(v, [kids[6]], at=10.0))
    store.transact(wf, lambda v: core.hold(v, [kids[7]], at=10.0))
    store.transact(wf, lambda v: core.run(v, kids[8], at=11.0))

    expected = {n: store.node(wf, n).status for n in ["root", *kids, "sink"]}
    seen: dict[str, Status] = {}
    runnable: list[str] = []

    def look(view: GraphView) -> Outcome:
        assert isinstance(view, StoreView)
        # statuses first, through the batches the core lists (parents of sink, children of root)
        runnable.extend(core.runnable(view, ["sink", *view.downstream("root")]))
        for name in view.upstream("sink"):
            seen[name] = view.status(name)
        seen["sink"] = view.status("sink")
        seen["root"] = view.status("root")
        # then the full nodes: the same statuses
        for name in expected:
            assert view.node(name).status is seen[name], name
            assert view.status(name) is seen[name]
        return Outcome(action="look", actor="test", at=12.0)

    store.transact(wf, look)
    assert seen == expected
    assert runnable == [k for k in kids[9:]]
    with pytest.raises(KeyError):
        store.transact(wf, lambda v: v.status("nope"))  # type: ignore[arg-type,return-value]


def test_fan_in_readiness_reads_no_full_rows(store: Store) -> None:
    """is_runnable on a fan-in after a fan-out: statuses only, in one light query."""
    wf, kids = _fan(store, 40)
    _run_and_succeed(store, wf, "root", 2.0)
    store.transact(wf, lambda v: core.run_ready(v, kids, at=3.0))

    def succeed_all(view: GraphView) -> Outcome:
        steps = [lambda g, k=k: core.succeed(g, k, f"{k}#1", at=4.0) for k in kids]
        return core.sequence(view, steps, at=4.0)

    store.transact(wf, succeed_all)
    answers: list[bool] = []

    def check(view: GraphView) -> Outcome:
        assert isinstance(view, StoreView)
        answers.append(core.is_runnable(view, "sink"))
        assert set(view._nodes) == {"sink"} or not view._nodes  # no parent loaded in full
        return Outcome(action="check", actor="test", at=5.0)

    store.transact(wf, check)
    assert answers == [True]


def test_lazy_json_behaves_like_its_dict() -> None:
    value = {"commands": [["true"]], "retries": 2, "env": {"A": "1"}}
    lazy = LazyJson('{"commands": [["true"]], "retries": 2, "env": {"A": "1"}}')
    assert lazy == value and value == lazy and (lazy != value) is False
    assert lazy == LazyJson('{"retries": 2, "env": {"A": "1"}, "commands": [["true"]]}')
    assert lazy != {"retries": 2} and lazy != [1]
    assert dict(lazy) == value and len(lazy) == 3 and "env" in lazy and "x" not in lazy
    assert lazy.get("retries") == 2 and lazy.get("x", 5) == 5 and lazy["env"] == {"A": "1"}
    assert list(lazy) == list(value) and list(lazy.items()) == list(value.items())
    assert repr(lazy) == repr(value)
    assert core.current_config(lazy, {"retries": 3}) == value | {"retries": 3}


def test_nodes_read_in_a_batch_equal_the_stored_ones(store: Store) -> None:
    configs = {f"k{i}": {"n": i, "env": {"X": str(i)}} for i in range(5)}
    planned = [Planned("root"), *(Planned(k, config=c) for k, c in configs.items())]
    wf = submit(store, planned, [("root", k) for k in configs])
    store.transact(wf, lambda v: core.update(v, ["k1"], {"n": 10}, at=2.0))
    got: dict[str, core.Node] = {}

    def read(view: GraphView) -> Outcome:
        for name in view.downstream("root"):
            got[name] = view.node(name)
        return Outcome(action="read", actor="test", at=3.0)

    store.transact(wf, read)
    for name, node in got.items():
        assert node == store.node(wf, name)
        assert node.current == store.node(wf, name).current
    assert got["k1"].current == {"n": 10, "env": {"X": "1"}} and got["k1"].patch == {"n": 10}


def test_summary_is_capped_with_counts(store: Store) -> None:
    width = SUMMARY_LIMIT + 5
    kids = [f"k{i:05d}" for i in range(width)]
    wf = submit(store, ["root", *kids], [("root", k) for k in kids])
    _run_and_succeed(store, wf, "root", 2.0)

    store.transact(wf, lambda v: core.run_ready(v, v.downstream("root"), at=3.0))

    def succeed_all(view: GraphView) -> Outcome:
        steps = [lambda g, k=k: core.succeed(g, k, f"{k}#1", at=4.0) for k in kids]
        return core.sequence(view, steps, at=4.0)

    applied = store.transact(wf, succeed_all)
    assert applied.response["counts"]["changed"] == width
    retried = store.transact(wf, lambda v: core.retry(v, ["root"], at=5.0))
    answer = retried.response
    assert answer["truncated"] is True
    assert answer["counts"] == {
        "changed": width + 1,
        "cascaded": width,
        "ineligible": 0,
        "changes": width + 1,
    }
    assert answer["changed"] == ["root", *kids[: SUMMARY_LIMIT - 1]]
    assert answer["cascaded"] == kids[:SUMMARY_LIMIT]
    assert len(answer["changes"]) == SUMMARY_LIMIT
    small = store.transact(wf, lambda v: core.hold(v, ["root"], at=6.0)).response
    assert small["truncated"] is False and small["changed"] == ["root"]
    assert small["counts"] == {"changed": 1, "cascaded": 0, "ineligible": 0, "changes": 1}
    assert retried.outcome is not None
    assert summarize(retried.outcome, limit=2)["cascaded"] == kids[:2]


def _expected_runnable(store: Store, wf: str) -> list[str]:
    graph = store.graph(wf)
    return sorted(core.runnable(graph, [n.name for n in graph]))


def test_runnable_and_status_from_either_side(store: Store) -> None:
    """Few open nodes: searched from the open side; many open and few ready: from the
    ready side and the roots. Both agree with the core."""
    width = 5200  # more open nodes than one chunk: the ready side is searched
    kids = [f"k{i:05d}" for i in range(width)]
    planned = ["root", "lone", *kids, "sink"]
    edges = [("root", k) for k in kids] + [(k, "sink") for k in kids[:3]]
    wf = submit(store, planned, edges)
    assert store.runnable_nodes(wf) == _expected_runnable(store, wf) == ["lone", "root"]
    assert store.status(wf) == core.workflow_status(store.graph(wf)) == "running"
    assert store.workflows_with_work() == [wf]

    _run_and_succeed(store, wf, "root", 2.0)
    store.transact(wf, lambda v: core.hold(v, ["lone", kids[0], kids[1]], at=4.0))
    expected = _expected_runnable(store, wf)
    assert len(expected) == width - 2
    assert store.runnable_nodes(wf) == expected
    assert store.runnable_nodes(wf, limit=3) == expected[:3]

    # hold everything open: nothing may run, the workflow is holding
    store.transact(wf, lambda v: core.hold(v, kids[2:], at=5.0))
    assert store.runnable_nodes(wf) == _expected_runnable(store, wf) == []
    assert store.status(wf) == core.workflow_status(store.graph(wf)) == "holding"
    assert store.workflows_with_work() == []
    store.transact(wf, lambda v: core.unhold(v, ["lone"], at=6.0))
    assert store.status(wf) == "running" and store.workflows_with_work() == [wf]
    assert store.runnable_nodes(wf) == ["lone"]


def test_status_of_a_running_workflow_needs_no_runnable_search(store: Store) -> None:
    wf = submit(store, ["a", "b"], [("a", "b")])
    store.transact(wf, lambda v: core.run(v, "a", at=2.0))
    assert store.status(wf) == "running"
    assert store.runnable_nodes(wf) == []
    assert all(s not in READY for s in store.counts(wf))


def test_unready_upstream_lists_every_unready_parent(store: Store, status_loading: str) -> None:
    """All of a fan-in's unready parents, each once, across pages, and none ready."""
    wf, kids = _fan(store, 12)
    _run_and_succeed(store, wf, "root", 2.0)
    for i, kid in enumerate(kids[:12:2]):  # every other parent succeeds
        _run_and_succeed(store, wf, kid, 3.0 + i)
    store.transact(wf, lambda v: core.skip(v, [kids[1]], at=10.0))
    seen: list[str] = []

    def look(view: GraphView) -> Outcome:
        seen.extend(view.unready_upstream("sink"))
        return Outcome(action="look", actor="test", at=12.0)

    store.transact(wf, look)
    assert sorted(seen) == kids[3:12:2]
    assert len(set(seen)) == len(seen)
