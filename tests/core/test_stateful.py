"""Property: for every sequence of manual actions and engine events, the lifecycle keeps its rules.

Random DAGs of up to 30 nodes; random actions on random selections, interleaved
with runs, results, lost workers, and stale or duplicate results. After every
step: the integrity rule holds, each change matches the allowed-actions table,
snapshots are never modified, current equals base merged with patch, a stale
result changed nothing, and the workflow status equals its definition.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from stormflow import core
from stormflow.core import READY, RETRYABLE, Action, Graph, Outcome, Status, WorkflowStatus

T0 = 1000.0
PATCHES = st.dictionaries(
    st.sampled_from(["instance", "frames", "cmd", "env"]),
    st.one_of(st.none(), st.integers(0, 3), st.sampled_from(["a", "b"])),
    max_size=2,
)


def descendants(graph: Graph, roots: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        for child in graph.downstream(todo.pop()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def status_by_definition(graph: Graph) -> WorkflowStatus:
    """The spec's words, written independently of core.derive_status."""
    nodes = list(graph)
    if all(n.status in READY for n in nodes):
        return WorkflowStatus.SUCCEEDED
    progress = any(n.status is Status.RUNNING for n in nodes) or any(
        n.status is Status.OPEN
        and all(graph.node(u).status in READY for u in graph.upstream(n.name))
        for n in nodes
    )
    if progress:
        return WorkflowStatus.RUNNING
    if any(n.status in (Status.FAILED, Status.CANCELED) for n in nodes):
        return WorkflowStatus.FAILED
    return WorkflowStatus.HOLDING


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.graph = Graph()
        self.clock = T0
        self.tokens: list[tuple[str, str]] = []  # every token ever issued, with its node
        self.seen_snapshots: dict[tuple[str, int], core.Snapshot] = {}

    @initialize(data=st.data(), size=st.integers(1, 30))
    def build(self, data: st.DataObject, size: int) -> None:
        names = [f"n{i}" for i in range(size)]
        statuses = data.draw(
            st.lists(st.sampled_from(["open", "open", "holding"]), min_size=size, max_size=size)
        )
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 : i + 6]]
        edges = (
            data.draw(st.lists(st.sampled_from(pairs), unique=True, max_size=45)) if pairs else []
        )
        configs = [{"cmd": n, "retries": data.draw(st.integers(0, 1))} for n in names]
        self.graph = Graph.build(list(zip(names, statuses, configs, strict=True)), edges)

    def tick(self) -> float:
        self.clock += 1
        return self.clock

    def record(self, out: Outcome) -> None:
        self.graph.apply(out)
        for name, att in out.start:
            self.tokens.append((name, att.token))

    # -- manual actions ----------------------------------------------------------
    @rule(
        data=st.data(),
        action=st.sampled_from(list(Action)),
        goal=st.sampled_from(["submitted", "open", "holding"]),
        strict=st.booleans(),
        patch=PATCHES,
    )
    def manual(
        self,
        data: st.DataObject,
        action: Action,
        goal: core.Target,
        strict: bool,
        patch: dict[str, Any],
    ) -> None:
        names = list(self.graph.nodes)
        selection = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=6))
        before = dict(self.graph.nodes)
        kwargs: dict[str, Any] = {"target": goal, "strict": strict}
        if action is Action.UPDATE:
            kwargs["patch"] = patch
        if action is Action.REPLAY:
            kwargs["snapshot"] = data.draw(st.integers(1, 3))
        try:
            out = core.act(self.graph, action, selection, at=self.tick(), **kwargs)
        except core.ActionRefused as refused:
            assert strict and refused.ineligible
            return
        self.record(out)
        ineligible = {i.node for i in out.ineligible}
        eligible = set(selection) - ineligible
        cascaded = set(out.cascaded)
        roots = {n for n in out.nodes if n in eligible}
        for name, new in out.nodes.items():
            old = before[name]
            if name in eligible:
                noop = action is Action.UPDATE and (
                    core.merge_edit(old.base, old.patch, patch) == old.patch
                )
                taken = Action.RETRY if noop else action
                assert core.is_allowed(old.status, taken), (name, old.status, action)
                assert name not in cascaded
            else:  # a cascade is the only other way a node changes
                assert name in cascaded
                assert old.status in RETRYABLE and new.status is old.submitted
                assert name in descendants(self.graph, roots)
                assert new.patch == old.patch
        for item in out.ineligible:
            old = before[item.node]
            if action is Action.UPDATE:  # one that changes nothing is a retry
                assert core.merge_edit(old.base, old.patch, patch) == old.patch
                assert core.refusal(old, Action.RETRY) is not None
            else:
                assert core.refusal(old, action) is not None or action is Action.REPLAY
        assert len({s.node for s in out.snapshots}) == len(out.snapshots)  # once per action

    # -- the engine ---------------------------------------------------------------
    @rule(data=st.data())
    def run(self, data: st.DataObject) -> None:
        ready = core.runnable(self.graph, self.graph.nodes)
        if ready:
            self.record(core.run(self.graph, data.draw(st.sampled_from(ready)), at=self.tick()))

    def live(self) -> list[tuple[str, str]]:
        return [(n.name, n.live_token) for n in self.graph if n.live_token is not None]

    @precondition(lambda self: bool(self.live()))
    @rule(data=st.data(), result=st.sampled_from(["succeed", "fail", "lost"]))
    def result(self, data: st.DataObject, result: str) -> None:
        name, token = data.draw(st.sampled_from(self.live()))
        at = self.tick()
        if result == "succeed":
            out = core.succeed(self.graph, name, token, at=at)
        else:
            out = core.fail(self.graph, name, token, at=at, exit_code=1, lost=result == "lost")
        assert not out.stale
        self.record(out)

    @precondition(lambda self: bool(self.tokens))
    @rule(data=st.data(), result=st.sampled_from(["succeed", "fail", "started"]))
    def stale_or_duplicate(self, data: st.DataObject, result: str) -> None:
        name, token = data.draw(st.sampled_from(self.tokens))
        if self.graph.node(name).live_token == token:
            return  # that one is live: not stale
        before = dict(self.graph.nodes)
        at = self.tick()
        if result == "succeed":
            out = core.succeed(self.graph, name, token, at=at)
        elif result == "fail":
            out = core.fail(self.graph, name, token, at=at)
        else:
            out = core.started(self.graph, name, token, at=at)
        assert out.stale and not out.nodes and not out.snapshots and not out.start
        self.record(out)
        assert self.graph.nodes == before

    # -- invariants ---------------------------------------------------------------
    @invariant()
    def integrity_rule_holds(self) -> None:
        assert core.violations(self.graph, self.graph.nodes) == []

    @invariant()
    def snapshots_are_never_modified(self) -> None:
        for name, snaps in self.graph.snapshots.items():
            for snap in snaps:
                key = (name, snap.number)
                assert self.seen_snapshots.setdefault(key, snap) == snap
            assert [s.number for s in snaps] == list(range(1, len(snaps) + 1))

    @invariant()
    def current_is_base_merged_with_patch(self) -> None:
        for node in self.graph:
            assert node.current == core.apply_patch(node.base, node.patch)
            assert core.diff(node.base, node.current) == node.patch  # minimal patch

    @invariant()
    def workflow_status_matches_its_definition(self) -> None:
        assert core.workflow_status(self.graph) is status_by_definition(self.graph)

    @invariant()
    def running_nodes_have_a_live_or_pending_attempt(self) -> None:
        for node in self.graph:
            if node.status is Status.RUNNING:
                assert node.live_token is not None


TestLifecycle = Lifecycle.TestCase
TestLifecycle.settings = settings(
    max_examples=300, stateful_step_count=50, deadline=None, suppress_health_check=list(HealthCheck)
)
