"""The integrity rule and the derived workflow status (spec: Integrity rule, Workflow status)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from enum import StrEnum

from .graph import Graph, GraphView
from .statuses import BAD, READY, Status

#: Statuses that require every direct upstream node to be ready.
STARTED = frozenset({Status.RUNNING, Status.SUCCEEDED, Status.FAILED})


def violations(graph: GraphView, names: Iterable[str]) -> list[tuple[str, str]]:
    """(node, upstream) pairs breaking the rule: a started node with an upstream not ready."""
    found: list[tuple[str, str]] = []
    for name in names:
        if graph.status(name) in STARTED:
            found.extend((name, up) for up in graph.upstream(name) if graph.status(up) not in READY)
    return found


class WorkflowStatus(StrEnum):
    SUCCEEDED = "succeeded"
    RUNNING = "running"
    FAILED = "failed"
    HOLDING = "holding"


def derive_status(counts: Mapping[Status, int], runnable_open: int) -> WorkflowStatus:
    """The workflow status from per-status counts and how many open nodes could run now.

    An empty workflow has succeeded. When nothing can make progress and nothing
    is bad, some node is holding or waits behind one, so the workflow is holding.
    """
    if counts.get(Status.RUNNING, 0) > 0 or runnable_open > 0:
        return WorkflowStatus.RUNNING
    total = sum(counts.values())
    if sum(counts.get(s, 0) for s in READY) == total:
        return WorkflowStatus.SUCCEEDED
    if any(counts.get(s, 0) for s in BAD):
        return WorkflowStatus.FAILED
    return WorkflowStatus.HOLDING


def workflow_status(graph: Graph) -> WorkflowStatus:
    """Derived status of an in-memory graph (scans its open nodes)."""
    counts: Counter[Status] = Counter(n.status for n in graph)
    runnable_open = sum(
        1
        for n in graph
        if n.status is Status.OPEN
        and all(graph.node(u).status in READY for u in graph.upstream(n.name))
    )
    return derive_status(counts, runnable_open)
