"""Small helpers that drive nodes through legitimate transitions for the lifecycle tests."""

from __future__ import annotations

import itertools

from stormflow import core
from stormflow.core import Graph, Outcome, Status

T = 1000.0  # a fixed clock: the core never reads time itself


def do(graph: Graph, outcome: Outcome) -> Outcome:
    graph.apply(outcome)
    assert core.violations(graph, graph.nodes) == []
    return outcome


def run(graph: Graph, name: str) -> str:
    """Run a node and return its attempt token."""
    out = do(graph, core.run(graph, name, at=T))
    return out.start[0][1].token


def succeed(graph: Graph, name: str) -> None:
    do(graph, core.succeed(graph, name, run(graph, name), at=T))


def drive(graph: Graph, name: str, status: Status) -> None:
    """Move an open node, whose upstream is ready, to `status` the way people and the engine do."""
    if status is Status.OPEN:
        return
    if status is Status.HOLDING:
        do(graph, core.hold(graph, [name], at=T))
    elif status is Status.SKIPPED:
        do(graph, core.skip(graph, [name], at=T))
    else:
        token = run(graph, name)
        if status is Status.SUCCEEDED:
            do(graph, core.succeed(graph, name, token, at=T))
        elif status is Status.FAILED:
            do(graph, core.fail(graph, name, token, at=T, exit_code=1))
        elif status is Status.CANCELED:
            do(graph, core.cancel(graph, [name], at=T))
    assert graph.node(name).status is status


def chain(*names: str, status: str = "open") -> Graph:
    return Graph.build([(n, status, {"cmd": n}) for n in names], list(itertools.pairwise(names)))
