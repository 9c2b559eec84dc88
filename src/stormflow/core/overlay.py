"""Several transitions in one transaction: each sees what the previous ones changed.

The engine applies a batch of results and then runs the nodes they made ready, in
one store transaction. The store's view shows the database as it was when the
transaction began, so the steps run over an `Overlay` that lays the nodes changed
so far on top of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from .graph import GraphView
from .model import Node, Outcome, Snapshot
from .statuses import READY, Status

Step = Callable[[GraphView], Outcome]


class Overlay:
    def __init__(self, base: GraphView) -> None:
        self.base = base
        self.nodes: dict[str, Node] = {}
        self.snapshots: dict[tuple[str, int], Snapshot] = {}

    def node(self, name: str) -> Node:
        found = self.nodes.get(name)
        return found if found is not None else self.base.node(name)

    def status(self, name: str) -> Status:
        found = self.nodes.get(name)
        return found.status if found is not None else self.base.status(name)

    def has(self, name: str) -> bool:
        return name in self.nodes or self.base.has(name)

    def upstream(self, name: str) -> Sequence[str]:
        return self.base.upstream(name)

    def downstream(self, name: str) -> Sequence[str]:
        return self.base.downstream(name)

    def unready_upstream(self, name: str) -> Iterator[str]:
        mine = self.nodes
        for up in self.base.unready_upstream(name):
            node = mine.get(up)
            if node is None or node.status not in READY:
                yield up
        if not mine:
            return
        # parents this overlay made not ready, which the base has ready
        ups = self.base.upstream(name)
        if len(mine) < len(ups):
            members = set(ups)
            changed = [n for n in mine if n in members]
        else:
            changed = [up for up in ups if up in mine]
        for up in changed:
            if mine[up].status not in READY and self.base.status(up) in READY:
                yield up

    def snapshot(self, name: str, number: int) -> Snapshot | None:
        return self.snapshots.get((name, number)) or self.base.snapshot(name, number)

    def lay(self, outcome: Outcome) -> None:
        self.nodes.update(outcome.nodes)
        for snap in outcome.snapshots:
            self.snapshots[(snap.node, snap.number)] = snap


def sequence(
    view: GraphView, steps: Iterable[Step], *, at: float, action: str = "batch"
) -> Outcome:
    """Run the steps one after the other over an overlay; one outcome holding them all."""
    overlay = Overlay(view)
    total = Outcome(action=action, actor="engine", at=at)
    for step in steps:
        out = step(overlay)
        overlay.lay(out)
        total.absorb(out)
    return total
