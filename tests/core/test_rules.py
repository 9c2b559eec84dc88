"""One test per rule of spec/node-lifecycle.md, named after it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import pytest

from stormflow import core
from stormflow.core import READY, Action, Graph, Node, Snapshot, Status, WorkflowStatus

from .helpers import T, chain, do, drive, run, succeed

# -- procedural transitions ----------------------------------------------------


def test_run_a_node_without_upstream_runs_at_once() -> None:
    graph = chain("a")
    assert core.runnable(graph, ["a"]) == ["a"]
    out = do(graph, core.run(graph, "a", at=T))
    assert graph.node("a").status is Status.RUNNING
    assert out.start[0][0] == "a" and out.start[0][1].number == 1


def test_run_waits_for_every_direct_upstream_to_be_ready() -> None:
    graph = Graph.build([("a", "open"), ("b", "open"), ("c", "open")], [("a", "c"), ("b", "c")])
    succeed(graph, "a")
    assert not core.is_runnable(graph, "c")
    with pytest.raises(core.NotRunnable):
        core.run(graph, "c", at=T)
    do(graph, core.skip(graph, ["b"], at=T))
    assert core.is_runnable(graph, "c")


def test_run_a_holding_node_never_runs() -> None:
    graph = chain("a", status="holding")
    assert not core.is_runnable(graph, "a")
    with pytest.raises(core.NotRunnable):
        core.run(graph, "a", at=T)


def test_succeed_makes_downstream_candidates() -> None:
    graph = chain("a", "b")
    token = run(graph, "a")
    out = do(graph, core.succeed(graph, "a", token, at=T + 1))
    assert graph.node("a").status is Status.SUCCEEDED
    assert out.check == {"b"} and core.runnable(graph, out.check) == ["b"]


def test_fail_without_retries_fails_the_node() -> None:
    graph = chain("a", "b")
    do(graph, core.fail(graph, "a", run(graph, "a"), at=T, exit_code=3, error="boom"))
    node = graph.node("a")
    assert node.status is Status.FAILED
    assert node.attempts[-1].exit_code == 3 and node.attempts[-1].result == "failed"
    assert not core.is_runnable(graph, "b")


def test_automatic_retries_are_attempts_inside_running() -> None:
    graph = Graph.build([("a", "open", {"retries": 2, "retry_delay": 10})])
    token = run(graph, "a")
    out = do(graph, core.fail(graph, "a", token, at=T, exit_code=1))
    node = graph.node("a")
    assert node.status is Status.RUNNING and len(node.attempts) == 2
    nxt = out.start[0][1]
    assert nxt.number == 2 and nxt.token != token and nxt.not_before == T + 10  # backoff
    out = do(graph, core.fail(graph, "a", nxt.token, at=T + 20, exit_code=1))
    third = out.start[0][1]
    assert third.not_before == T + 20 + 20  # doubled
    do(graph, core.fail(graph, "a", third.token, at=T + 50, exit_code=1))
    node = graph.node("a")
    assert node.status is Status.FAILED
    assert [a.result for a in node.attempts] == ["failed", "failed", "failed"]


def test_a_lost_attempt_is_retried_without_using_the_nodes_retries() -> None:
    graph = chain("a")
    token = run(graph, "a")
    out = do(graph, core.fail(graph, "a", token, at=T, lost=True, error="worker lost"))
    assert graph.node("a").status is Status.RUNNING
    assert out.start[0][1].not_before == T
    assert graph.node("a").attempts[0].result == "lost"


def test_every_run_gets_a_fresh_attempt_token() -> None:
    graph = chain("a")
    first = run(graph, "a")
    do(graph, core.retry(graph, ["a"], at=T))
    second = run(graph, "a")
    assert first != second


def test_a_result_for_a_stopped_attempt_is_stale_and_changes_nothing() -> None:
    graph = chain("a", "b")
    token = run(graph, "a")
    do(graph, core.cancel(graph, ["a"], at=T))
    before = dict(graph.nodes)
    out = core.succeed(graph, "a", token, at=T)
    assert out.stale and out.nodes == {} and out.snapshots == [] and out.start == []
    assert out.events[0].type == "stale-result"  # recorded in the event log
    do(graph, out)
    assert graph.nodes == before


def test_a_duplicate_result_is_stale() -> None:
    graph = chain("a", "b")
    token = run(graph, "a")
    do(graph, core.succeed(graph, "a", token, at=T))
    assert core.succeed(graph, "a", token, at=T).stale
    assert core.fail(graph, "a", token, at=T).stale


def test_a_result_after_a_retry_is_stale() -> None:
    graph = chain("a")
    token = run(graph, "a")
    do(graph, core.retry(graph, ["a"], at=T))
    run(graph, "a")
    assert core.fail(graph, "a", token, at=T).stale
    assert graph.node("a").status is Status.RUNNING


def test_started_records_worker_and_log_on_the_live_attempt() -> None:
    graph = chain("a")
    token = run(graph, "a")
    do(graph, core.started(graph, "a", token, at=T + 1, worker="w1", log="logs/a.1"))
    att = graph.node("a").attempts[-1]
    assert (att.started_at, att.worker, att.log) == (T + 1, "w1", "logs/a.1")
    assert core.started(graph, "a", "a#99", at=T).stale


# -- manual transitions --------------------------------------------------------


def test_hold_and_unhold() -> None:
    graph = chain("a")
    do(graph, core.hold(graph, ["a"], at=T))
    assert graph.node("a").status is Status.HOLDING
    out = do(graph, core.unhold(graph, ["a"], at=T))
    assert graph.node("a").status is Status.OPEN and out.check == {"a"}


def test_skip_a_running_node_stops_its_attempt_first() -> None:
    graph = chain("a", "b")
    token = run(graph, "a")
    out = do(graph, core.skip(graph, ["a"], at=T))
    assert out.stop == [("a", token)]
    assert graph.node("a").status is Status.SKIPPED
    assert graph.node("a").attempts[-1].result == "stopped"
    assert core.runnable(graph, out.check) == ["b"]  # skipped is ready


def test_skip_is_allowed_on_a_node_whose_inputs_are_not_ready() -> None:
    graph = chain("a", "b", "c")
    do(graph, core.skip(graph, ["b"], at=T))
    assert core.is_runnable(graph, "c")
    assert core.violations(graph, graph.nodes) == []


def test_cancel_a_running_node_stops_its_attempt() -> None:
    graph = chain("a", "b")
    token = run(graph, "a")
    out = do(graph, core.cancel(graph, ["a"], at=T))
    assert out.stop == [("a", token)] and graph.node("a").status is Status.CANCELED
    assert out.cascaded == []


@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.SKIPPED])
def test_cancel_on_a_ready_node_withdraws_readiness_and_cascades(status: Status) -> None:
    graph = chain("a", "b", "c")
    drive(graph, "a", status)
    succeed(graph, "b")
    run(graph, "c")
    out = do(graph, core.cancel(graph, ["a"], at=T))
    assert graph.node("a").status is Status.CANCELED
    assert graph.node("b").status is Status.OPEN and graph.node("c").status is Status.OPEN
    assert out.cascaded == ["b", "c"]
    assert [s.node for s in out.snapshots] == ["b", "c"]  # the canceled node itself is not
    assert all(s.caused_by == "a" for s in out.snapshots)


@pytest.mark.parametrize("status", [Status.OPEN, Status.HOLDING])
def test_cancel_is_never_allowed_on_start_statuses(status: Status) -> None:
    graph = chain("a")
    drive(graph, "a", status)
    out = core.cancel(graph, ["a"], at=T)
    article = "an" if status is Status.OPEN else "a"
    assert out.ineligible[0].reason == f"cannot cancel {article} {status} node"


@pytest.mark.parametrize("status", [Status.OPEN, Status.HOLDING])
def test_retry_on_a_start_status_is_refused_as_not_allowed(status: Status) -> None:
    graph = chain("a")
    drive(graph, "a", status)
    out = core.retry(graph, ["a"], at=T)
    assert out.nodes == {} and "cannot retry" in out.ineligible[0].reason


def test_retry_is_an_update_without_parameter_change() -> None:
    graph = chain("a")
    do(graph, core.update(graph, ["a"], {"cmd": "x"}, at=T))
    succeed(graph, "a")
    do(graph, core.retry(graph, ["a"], at=T))
    node = graph.node("a")
    assert node.status is Status.OPEN and node.patch == {"cmd": "x"}
    assert graph.snapshots["a"][0].why == "retry"


# -- updates -------------------------------------------------------------------


def test_update_from_a_start_status_applies_the_patch_without_snapshot() -> None:
    graph = chain("a")
    out = do(graph, core.update(graph, ["a"], {"cmd": "new"}, at=T))
    assert graph.node("a").current == {"cmd": "new"} and out.snapshots == []
    assert graph.node("a").status is Status.OPEN


def test_update_from_a_start_status_goes_to_the_target() -> None:
    graph = chain("a")
    do(graph, core.update(graph, ["a"], {"cmd": "x"}, at=T, target="holding"))
    assert graph.node("a").status is Status.HOLDING


def test_update_from_a_retryable_status_snapshots_patches_and_cascades() -> None:
    graph = chain("a", "b")
    succeed(graph, "a")
    token_b = run(graph, "b")
    out = do(graph, core.update(graph, ["a"], {"cmd": "v2"}, at=T, actor="ann"))
    assert graph.node("a").status is Status.OPEN and graph.node("a").patch == {"cmd": "v2"}
    snap = graph.snapshots["a"][0]
    assert (snap.number, snap.status, snap.patch, snap.why, snap.actor) == (
        1,
        Status.SUCCEEDED,
        {},
        "update",
        "ann",
    )
    assert graph.node("b").status is Status.OPEN  # cascaded
    assert out.stop == [("b", token_b)]


def test_update_of_a_running_node_stops_the_attempt_first() -> None:
    graph = chain("a")
    token = run(graph, "a")
    out = do(graph, core.update(graph, ["a"], {"cmd": "x"}, at=T))
    assert out.stop == [("a", token)]
    snap = graph.snapshots["a"][0]
    assert snap.status is Status.RUNNING and snap.attempts[0].result == "stopped"
    assert graph.node("a").attempts == ()


@pytest.mark.parametrize(
    ("submitted", "target", "expected"),
    [
        ("open", "submitted", Status.OPEN),
        ("holding", "submitted", Status.HOLDING),
        ("open", "holding", Status.HOLDING),
        ("holding", "open", Status.OPEN),
    ],
)
def test_update_options_choose_the_start_status(
    submitted: str, target: core.Target, expected: Status
) -> None:
    graph = chain("a", status=submitted)
    if submitted == "holding":
        do(graph, core.unhold(graph, ["a"], at=T))
    succeed(graph, "a")
    do(graph, core.retry(graph, ["a"], at=T, target=target))
    assert graph.node("a").status is expected
    assert graph.node("a").submitted is Status(submitted)  # remembered for ever


def test_revert_empties_the_patch() -> None:
    graph = chain("a")
    do(graph, core.update(graph, ["a"], {"cmd": "x", "extra": 1}, at=T))
    do(graph, core.revert(graph, ["a"], at=T))
    assert graph.node("a").patch == {} and graph.node("a").current == {"cmd": "a"}


@pytest.mark.parametrize("status", list(Status), ids=str)
def test_revert_with_an_empty_patch_is_ineligible_nothing_to_revert(status: Status) -> None:
    graph = chain("a", "b")
    drive(graph, "a", status)
    out = core.revert(graph, ["a"], at=T)
    reason = core.NOTHING_TO_REVERT if core.is_allowed(status, Action.REVERT) else "cannot"
    assert out.nodes == {} and out.events == [] and out.snapshots == []
    assert reason in out.ineligible[0].reason
    with pytest.raises(core.ActionRefused):
        core.revert(graph, ["a"], at=T, strict=True)


def test_revert_acts_only_on_the_patched_nodes_of_a_selection() -> None:
    graph = chain("a", "b")
    do(graph, core.update(graph, ["b"], {"cmd": "x"}, at=T))
    out = do(graph, core.revert(graph, ["a", "b"], at=T))
    assert out.changed == ["b"] and graph.node("b").patch == {}
    assert [(i.node, i.reason) for i in out.ineligible] == [("a", core.NOTHING_TO_REVERT)]


def test_an_update_that_changes_nothing_is_a_retry_with_the_given_target() -> None:
    graph = chain("a", "b")
    do(graph, core.update(graph, ["a"], {"cmd": "x"}, at=T))
    succeed(graph, "a")
    succeed(graph, "b")
    out = do(graph, core.update(graph, ["a"], {"cmd": "x"}, at=T, target="holding"))
    assert out.ineligible == [] and out.changed == ["a", "b"]
    node = graph.node("a")
    assert node.status is Status.HOLDING and node.patch == {"cmd": "x"}
    assert graph.snapshots["a"][0].why == "retry" and out.events[0].type == "retry"
    assert graph.node("b").status is Status.OPEN  # cascaded as by a retry


def test_stop_and_hold_a_running_node_is_an_empty_update_with_target_holding() -> None:
    graph = chain("a")
    token = run(graph, "a")
    out = do(graph, core.update(graph, ["a"], {}, at=T, target="holding"))
    assert out.stop == [("a", token)] and graph.node("a").status is Status.HOLDING
    assert graph.snapshots["a"][0].attempts[0].result == "stopped"


@pytest.mark.parametrize("status", [Status.OPEN, Status.HOLDING])
def test_an_update_that_changes_nothing_is_refused_where_retry_is(status: Status) -> None:
    graph = chain("a", "b")
    drive(graph, "a", status)
    out = core.update(graph, ["a", "b"], {"cmd": "a"}, at=T, target="holding")
    assert out.changed == ["b"]  # b's patch changes (its cmd is b): a real update
    assert out.ineligible[0].node == "a" and "changes nothing" in out.ineligible[0].reason
    assert graph.node("a").status is status


def test_replay_restores_the_patch_stored_in_a_snapshot() -> None:
    graph = chain("a")
    do(graph, core.update(graph, ["a"], {"cmd": "v1"}, at=T))
    succeed(graph, "a")
    do(graph, core.update(graph, ["a"], {"cmd": "v2"}, at=T))  # snap 1 holds v1
    succeed(graph, "a")
    do(graph, core.replay(graph, ["a"], 1, at=T))  # snap 2 holds v2
    assert graph.node("a").patch == {"cmd": "v1"}
    assert [s.patch for s in graph.snapshots["a"]] == [{"cmd": "v1"}, {"cmd": "v2"}]
    assert core.replay(graph, ["a"], 9, at=T).ineligible[0].reason == "has no snapshot 9"


# -- configuration and history --------------------------------------------------


def test_editing_merges_into_the_patch_and_base_values_drop_out() -> None:
    graph = Graph.build([("a", "open", {"cpu": 4, "env": {"A": "1", "B": "2"}})])
    do(graph, core.update(graph, ["a"], {"cpu": 8, "env": {"A": "9"}}, at=T))
    assert graph.node("a").patch == {"cpu": 8, "env": {"A": "9"}}
    do(graph, core.update(graph, ["a"], {"cpu": 4}, at=T))
    assert graph.node("a").patch == {"env": {"A": "9"}}
    do(graph, core.update(graph, ["a"], {"env": {"B": None}}, at=T))
    assert graph.node("a").current == {"cpu": 4, "env": {"A": "9"}}
    assert graph.node("a").base == {"cpu": 4, "env": {"A": "1", "B": "2"}}  # immutable


def test_snapshots_are_immutable_and_numbered_per_node() -> None:
    graph = chain("a")
    for _ in range(3):
        succeed(graph, "a")
        do(graph, core.retry(graph, ["a"], at=T))
    assert [s.number for s in graph.snapshots["a"]] == [1, 2, 3]
    with pytest.raises(dataclasses.FrozenInstanceError):
        graph.snapshots["a"][0].why = "x"  # type: ignore[misc]


def test_a_snapshot_holds_patch_status_attempts_when_who_and_why() -> None:
    graph = chain("a")
    token = run(graph, "a")
    do(graph, core.fail(graph, "a", token, at=T + 5, exit_code=2))
    do(graph, core.update(graph, ["a"], {"cmd": "fixed"}, at=T + 9, actor="bob"))
    snap: Snapshot = graph.snapshots["a"][0]
    assert snap.status is Status.FAILED and snap.patch == {}
    assert snap.attempts[0].exit_code == 2 and snap.attempts[0].token == token
    assert (snap.at, snap.actor, snap.why, snap.caused_by) == (T + 9, "bob", "update", None)


def test_history_lists_current_snapshots_newest_first_then_base() -> None:
    graph = chain("a")
    for value in ("v1", "v2"):
        succeed(graph, "a")
        do(graph, core.update(graph, ["a"], {"cmd": value}, at=T))
    labels = [label for label, _ in graph.history("a")]
    assert labels == ["current", "snap(2)", "snap(1)", "base"]


# -- cascade ---------------------------------------------------------------------


def diamond() -> Graph:
    graph = Graph.build(
        [(n, "open") for n in "abcd"], [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    )
    for n in "abcd":
        succeed(graph, n)
    return graph


def test_cascade_retries_every_retryable_descendant_to_its_submitted_status() -> None:
    graph = Graph.build([("a", "open"), ("b", "holding"), ("c", "open")], [("a", "b"), ("b", "c")])
    succeed(graph, "a")
    do(graph, core.unhold(graph, ["b"], at=T))
    succeed(graph, "b")
    succeed(graph, "c")
    do(graph, core.update(graph, ["b"], {"x": 1}, at=T))
    do(graph, core.update(graph, ["c"], {"y": 1}, at=T, target="holding"))
    do(graph, core.unhold(graph, ["c"], at=T))
    do(graph, core.retry(graph, ["a"], at=T))
    assert graph.node("b").status is Status.HOLDING  # its submitted status
    assert graph.node("b").patch == {"x": 1}  # cascaded nodes keep their patch
    assert graph.node("c").patch == {"y": 1}


def test_cascade_snapshots_a_node_once_however_many_paths_reach_it() -> None:
    graph = diamond()
    out = do(graph, core.retry(graph, ["a"], at=T))
    assert sorted(s.node for s in out.snapshots) == ["a", "b", "c", "d"]
    assert len(graph.snapshots["d"]) == 1


def test_cascade_snapshots_once_however_many_selected_nodes_it_descends_from() -> None:
    graph = diamond()
    out = do(graph, core.retry(graph, ["b", "c"], at=T))
    assert sorted(s.node for s in out.snapshots) == ["b", "c", "d"]
    assert graph.node("a").status is Status.SUCCEEDED


def test_a_selected_descendant_is_snapshotted_for_its_own_action_not_the_cascade() -> None:
    graph = diamond()
    out = do(graph, core.update(graph, ["a", "d"], {"mem": 64}, at=T))
    whys = {s.node: s.why for s in out.snapshots}
    assert whys == {"a": "update", "b": "cascade", "c": "cascade", "d": "update"}
    assert graph.node("d").patch == {"mem": 64} and graph.node("b").patch == {}


def test_cascade_walks_through_start_nodes_to_skipped_descendants() -> None:
    graph = chain("a", "b", "c", "d")
    succeed(graph, "a")
    do(graph, core.skip(graph, ["c"], at=T))  # b stays open, c skipped by a person
    succeed(graph, "d")
    out = do(graph, core.retry(graph, ["a"], at=T))
    assert out.cascaded == ["c", "d"]
    assert graph.node("d").status is Status.OPEN


def test_cascade_events_name_the_node_that_caused_them() -> None:
    graph = chain("a", "b")
    succeed(graph, "a")
    succeed(graph, "b")
    out = do(graph, core.retry(graph, ["a"], at=T))
    cascade = [e for e in out.events if e.type == "cascade"]
    assert [(e.node, e.caused_by, e.old, e.new) for e in cascade] == [
        ("b", "a", Status.SUCCEEDED, Status.OPEN)
    ]


# -- selections ------------------------------------------------------------------


def test_a_selection_applies_to_eligible_nodes_and_lists_the_rest_with_reasons() -> None:
    graph = Graph.build([(n, "open") for n in "abc"])
    succeed(graph, "b")
    out = do(graph, core.hold(graph, ["a", "b", "c"], at=T))
    assert sorted(out.nodes) == ["a", "c"]
    assert [(i.node, i.status, i.reason) for i in out.ineligible] == [
        ("b", Status.SUCCEEDED, "cannot hold a succeeded node")
    ]


def test_a_strict_selection_is_refused_whole() -> None:
    graph = Graph.build([(n, "open") for n in "ab"])
    succeed(graph, "b")
    with pytest.raises(core.ActionRefused) as refused:
        core.hold(graph, ["a", "b"], at=T, strict=True)
    assert refused.value.ineligible[0].node == "b"
    assert graph.node("a").status is Status.OPEN


def test_an_update_patch_applies_to_every_selected_node() -> None:
    graph = Graph.build([(n, "open", {"instance": "small"}) for n in "abc"])
    for n in "abc":
        drive(graph, n, Status.FAILED)
    do(graph, core.update(graph, ["a", "b", "c"], {"instance": "large"}, at=T))
    assert {graph.node(n).current["instance"] for n in "abc"} == {"large"}
    assert all(graph.node(n).status is Status.OPEN for n in "abc")


def test_unknown_nodes_in_a_selection_are_an_error() -> None:
    with pytest.raises(core.UnknownNode, match="nope"):
        core.hold(chain("a"), ["a", "nope"], at=T)


def test_every_change_appends_an_event_with_actor_and_statuses() -> None:
    graph = chain("a")
    out = core.hold(graph, ["a"], at=T, actor="ann")
    assert [(e.type, e.node, e.old, e.new, e.actor) for e in out.events] == [
        ("hold", "a", Status.OPEN, Status.HOLDING, "ann")
    ]


# -- workflow status -------------------------------------------------------------


def test_workflow_status_succeeded_when_every_node_is_ready() -> None:
    graph = chain("a", "b")
    succeed(graph, "a")
    do(graph, core.skip(graph, ["b"], at=T))
    assert core.workflow_status(graph) is WorkflowStatus.SUCCEEDED
    assert core.workflow_status(Graph()) is WorkflowStatus.SUCCEEDED


def test_workflow_status_running_when_a_node_runs_or_could() -> None:
    graph = chain("a", "b")
    assert core.workflow_status(graph) is WorkflowStatus.RUNNING  # a is open and ready
    run(graph, "a")
    assert core.workflow_status(graph) is WorkflowStatus.RUNNING


def test_workflow_status_failed_when_stuck_behind_a_bad_node() -> None:
    graph = Graph.build([("a", "open"), ("b", "open"), ("c", "holding")], [("a", "b")])
    drive(graph, "a", Status.FAILED)
    assert core.workflow_status(graph) is WorkflowStatus.FAILED


def test_workflow_status_holding_when_waiting_behind_a_holding_node() -> None:
    graph = Graph.build([("a", "holding"), ("b", "open")], [("a", "b")])
    assert core.workflow_status(graph) is WorkflowStatus.HOLDING


# -- cost ------------------------------------------------------------------------


class CountingView:
    """A GraphView that counts the nodes an action reads."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.read: set[str] = set()

    def node(self, name: str) -> Node:
        self.read.add(name)
        return self.graph.node(name)

    def status(self, name: str) -> Status:
        self.read.add(name)
        return self.graph.status(name)

    def has(self, name: str) -> bool:
        return self.graph.has(name)

    def upstream(self, name: str) -> Sequence[str]:
        return self.graph.upstream(name)

    def downstream(self, name: str) -> Sequence[str]:
        return self.graph.downstream(name)

    def unready_upstream(self, name: str) -> Iterator[str]:
        for up in self.graph.upstream(name):
            if self.status(up) not in READY:
                yield up

    def snapshot(self, name: str, number: int) -> Snapshot | None:
        return self.graph.snapshot(name, number)


def test_an_action_reads_only_the_nodes_it_touches() -> None:
    # 50 independent chains of 100: an action reads its selection and their descendants only.
    nodes = [(f"c{c}n{i}", "open") for c in range(50) for i in range(100)]
    edges = [(f"c{c}n{i}", f"c{c}n{i + 1}") for c in range(50) for i in range(99)]
    graph = Graph.build(nodes, edges)
    view = CountingView(graph)
    core.hold(view, ["c7n50"], at=T)
    assert view.read == {"c7n50"}
    succeed(graph, "c3n0")
    succeed(graph, "c3n1")
    view.read.clear()
    core.retry(view, ["c3n1"], at=T)
    assert view.read == {f"c3n{i}" for i in range(1, 100)}


def test_run_ready_runs_every_runnable_candidate_in_one_outcome() -> None:
    graph = Graph.build(
        [("a", "open"), ("b", "open"), ("c", "holding"), ("d", "open")], [("a", "d")]
    )
    out = do(graph, core.run_ready(graph, ["a", "b", "c", "d", "a"], at=T))
    assert sorted(n for n, _ in out.start) == ["a", "b"]
    assert graph.node("c").status is Status.HOLDING and graph.node("d").status is Status.OPEN


def test_a_sequence_of_transitions_sees_each_earlier_change() -> None:
    graph = chain("a", "b")
    token = run(graph, "a")
    steps = [
        lambda v: core.succeed(v, "a", token, at=T),
        lambda v: core.succeed(v, "a", token, at=T),  # a duplicate: stale, recorded
        lambda v: core.run_ready(v, ["b"], at=T),
    ]
    out = do(graph, core.sequence(graph, steps, at=T))
    assert graph.node("a").status is Status.SUCCEEDED
    assert graph.node("b").status is Status.RUNNING
    assert [e.type for e in out.events] == ["succeed", "stale-result", "run"]


def test_refusals_are_grammatical() -> None:
    graph = chain("a")
    assert core.unhold(graph, ["a"], at=T).ineligible[0].reason == "cannot unhold an open node"
    assert (
        core.retry(graph, ["a"], at=T)
        .ineligible[0]
        .reason.startswith("cannot retry an open node: it has not run")
    )
    drive(graph, "a", Status.HOLDING)
    assert core.hold(graph, ["a"], at=T).ineligible[0].reason == "cannot hold a holding node"
