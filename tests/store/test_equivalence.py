"""A store-backed sequence of random actions persists exactly like `core.Graph.apply`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stormflow import core
from stormflow.core import Action, GraphView, Outcome, Status
from stormflow.store import Store

from .helpers import Planned, submit

Fn = Callable[[GraphView], Outcome]


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[Planned], list[tuple[str, str]]]:
    n = draw(st.integers(1, 6))
    names = [f"n{i}" for i in range(n)]
    pairs = draw(st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=8))
    edges = sorted({(names[a], names[b]) for a, b in pairs if a < b})
    planned = [
        Planned(
            name,
            status=draw(st.sampled_from([Status.OPEN, Status.OPEN, Status.HOLDING])),
            config={"retries": draw(st.integers(0, 1)), "p": 0},
        )
        for name in names
    ]
    return planned, edges


def choose(draw: st.DrawFn, graph: core.Graph, at: float, tokens: list[str]) -> Fn:
    """An action (as a function of the view) chosen from the in-memory state."""
    names = list(graph.nodes)
    kind = draw(st.sampled_from(["run", "result", "result", "stale", "manual", "manual"]))
    runnable = core.runnable(graph, names)
    live = [(n.name, n.live_token) for n in graph if n.live_token is not None]
    if kind == "run" and runnable:
        name = draw(st.sampled_from(runnable))
        return lambda v: core.run(v, name, at=at)
    if kind in ("result", "stale") and (live or tokens):
        if kind == "result" and live:
            name, token = draw(st.sampled_from(live))
        else:
            token = draw(st.sampled_from(tokens))  # maybe stale: superseded or already ended
            name = token.split("#")[0]
        which = draw(st.sampled_from(["started", "succeed", "fail", "lost"]))
        if which == "started":
            return lambda v: core.started(v, name, token, at=at, worker="w1", log="/l")
        if which == "succeed":
            return lambda v: core.succeed(v, name, token, at=at)
        return lambda v: core.fail(v, name, token, at=at, exit_code=1, lost=which == "lost")
    action = draw(st.sampled_from(list(Action)))
    selection = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3))
    strict = draw(st.booleans())
    target = draw(st.sampled_from(["submitted", "open", "holding"]))
    patch = {"p": draw(st.integers(0, 2))}
    snapshot = draw(st.integers(1, 2))
    return lambda v: core.act(
        v,
        action,
        selection,
        at=at,
        actor="alice",
        patch=patch if action is Action.UPDATE else None,
        target=target,  # type: ignore[arg-type]
        snapshot=snapshot if action is Action.REPLAY else None,
        strict=strict,
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_actions_match_in_memory_graph(store: Store, data: st.DataObject) -> None:
    planned, edges = data.draw(dags())
    wf = submit(store, planned, edges)
    graph = core.Graph.build([(p.name, p.status, p.config) for p in planned], edges)
    tokens: list[str] = []
    steps = data.draw(st.integers(1, 14))
    for step in range(steps):
        fn = choose(data.draw, graph, at=10.0 + step, tokens=tokens)
        try:
            expected: Outcome | Exception = fn(graph)
        except core.LifecycleError as exc:
            expected = exc
        last_seq = store.events(wf, limit=100_000)[-1].seq
        if isinstance(expected, Exception):
            try:
                store.transact(wf, fn)
            except core.LifecycleError as exc:
                assert type(exc) is type(expected)
            else:
                raise AssertionError(f"store did not raise {expected!r}")
            assert store.events(wf, limit=100_000)[-1].seq == last_seq  # nothing written
            continue
        applied = store.transact(wf, fn, correlation=f"step{step}")
        assert applied.outcome == expected
        graph.apply(expected)
        tokens.extend(a.token for _, a in expected.start)
        if expected.events:
            assert (applied.first_seq, applied.last_seq) == (
                last_seq + 1,
                last_seq + len(expected.events),
            )
    stored = store.graph(wf)
    assert stored.nodes == graph.nodes
    assert stored.snapshots == graph.snapshots
    assert [e for e in stored.events if e.type != "submit"] == graph.events
    assert list(stored.edges()) == list(graph.edges())
    assert core.violations(stored, stored.nodes) == []
    assert store.counts(wf) == {s: c for s, c in Counter(n.status for n in graph).items()}
    assert store.status(wf) == core.workflow_status(graph)
    assert sorted(store.runnable_nodes(wf)) == sorted(core.runnable(graph, graph.nodes))
    seqs = [e.seq for e in store.events(wf, limit=100_000)]
    assert seqs == list(range(1, len(seqs) + 1))
