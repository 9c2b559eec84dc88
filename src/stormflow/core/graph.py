"""The graph the lifecycle reads, and an in-memory implementation.

The core only *reads* through `GraphView`: a node by name, its direct upstream
and downstream, and a stored snapshot. A store implements the same protocol over
its tables (loading only what an action reaches), so an action costs in
proportion to the nodes it touches, never to the size of the graph.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from .model import Event, Node, Outcome, Snapshot
from .statuses import READY, START, Status


class GraphView(Protocol):
    def node(self, name: str) -> Node: ...

    def status(self, name: str) -> Status:
        """The node's status alone: readiness checks need no more than this."""
        ...

    def has(self, name: str) -> bool: ...

    def upstream(self, name: str) -> Sequence[str]: ...

    def downstream(self, name: str) -> Sequence[str]: ...

    def unready_upstream(self, name: str) -> Iterator[str]:
        """The node's upstream nodes that are not ready (succeeded or skipped), each once, in
        no promised order, lazily: a readiness check stops at the first, and a store can find
        it without reading every status of a fan-in (a comp waiting for 10,000 chunks)."""
        ...

    def snapshot(self, name: str, number: int) -> Snapshot | None: ...


class Graph:
    """An in-memory workflow graph: nodes, edges, snapshots and the event log.

    `apply(outcome)` is the only way its state changes, mirroring what a store
    does in one transaction.
    """

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self._up: dict[str, list[str]] = {}
        self._down: dict[str, list[str]] = {}
        self.snapshots: dict[str, list[Snapshot]] = {}
        self.events: list[Event] = []
        self.counts: Counter[Status] = Counter()

    @classmethod
    def build(
        cls,
        nodes: Iterable[tuple[str, Status | str, Mapping[str, Any]] | tuple[str, Status | str]],
        edges: Iterable[tuple[str, str]] = (),
    ) -> Graph:
        """A graph from (name, submitted status[, base config]) and (upstream, downstream) pairs."""
        graph = cls()
        for item in nodes:
            name, status = item[0], Status(item[1])
            base: Mapping[str, Any] = item[2] if len(item) > 2 else {}
            graph.add_node(name, status, base)
        for up, down in edges:
            graph.add_edge(up, down)
        return graph

    def add_node(self, name: str, status: Status, base: Mapping[str, Any]) -> None:
        if name in self.nodes:
            raise ValueError(f"duplicate node {name!r}")
        if status not in START:
            raise ValueError(f"node {name!r}: submitted status must be open or holding")
        self.nodes[name] = Node(name=name, status=status, submitted=status, base=dict(base))
        self._up[name] = []
        self._down[name] = []
        self.snapshots[name] = []
        self.counts[status] += 1

    def add_edge(self, up: str, down: str) -> None:
        for name in (up, down):
            if name not in self.nodes:
                raise ValueError(f"edge {up} -> {down}: unknown node {name!r}")
        if up == down:
            raise ValueError(f"edge {up} -> {down}: a node cannot depend on itself")
        self._down[up].append(down)
        self._up[down].append(up)

    # -- GraphView -------------------------------------------------------
    def node(self, name: str) -> Node:
        return self.nodes[name]

    def status(self, name: str) -> Status:
        return self.nodes[name].status

    def has(self, name: str) -> bool:
        return name in self.nodes

    def upstream(self, name: str) -> Sequence[str]:
        return self._up[name]

    def downstream(self, name: str) -> Sequence[str]:
        return self._down[name]

    def unready_upstream(self, name: str) -> Iterator[str]:
        nodes = self.nodes
        return (up for up in self._up[name] if nodes[up].status not in READY)

    def snapshot(self, name: str, number: int) -> Snapshot | None:
        snaps = self.snapshots.get(name, [])
        return snaps[number - 1] if 0 < number <= len(snaps) else None

    # -- state changes ---------------------------------------------------
    def apply(self, outcome: Outcome) -> None:
        for name, new in outcome.nodes.items():
            old = self.nodes[name]
            if old.status is not new.status:
                self.counts[old.status] -= 1
                self.counts[new.status] += 1
            self.nodes[name] = new
        for snap in outcome.snapshots:
            self.snapshots[snap.node].append(snap)
        self.events.extend(outcome.events)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def edges(self) -> Iterator[tuple[str, str]]:
        for up, downs in self._down.items():
            for down in downs:
                yield up, down

    def history(self, name: str) -> list[tuple[str, Mapping[str, Any]]]:
        """current, snapshots newest first, then base: as (label, patch-or-config) pairs."""
        node = self.nodes[name]
        rows: list[tuple[str, Mapping[str, Any]]] = [("current", node.current)]
        for snap in reversed(self.snapshots[name]):
            rows.append((f"snap({snap.number})", snap.patch))
        rows.append(("base", node.base))
        return rows
