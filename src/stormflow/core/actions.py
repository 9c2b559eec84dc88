"""Manual actions on one node or a selection: hold, unhold, skip, cancel and the update family.

`act` computes an `Outcome` from a read-only `GraphView`; nothing is mutated.
A selection is one action: eligible nodes change, ineligible ones are listed with
the reason (or, with `strict`, the whole action is refused). Updates out of a
retryable status snapshot the node and cascade a retry to every retryable
descendant; each node is snapshotted at most once per action.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from .graph import GraphView
from .model import (
    ActionRefused,
    Event,
    Ineligible,
    Node,
    Outcome,
    Snapshot,
    StatusChange,
    Target,
    UnknownNode,
)
from .patch import merge_edit
from .statuses import READY, RETRYABLE, START, Action, Status, is_allowed

UPDATE_FAMILY = frozenset({Action.UPDATE, Action.RETRY, Action.REVERT, Action.REPLAY})
TARGETS: frozenset[str] = frozenset({"submitted", "open", "holding"})


class _Work:
    """Working copies of the nodes one action touches, and the outcome being built."""

    def __init__(self, graph: GraphView, outcome: Outcome) -> None:
        self.graph = graph
        self.out = outcome

    def get(self, name: str) -> Node:
        touched = self.out.nodes.get(name)
        return touched if touched is not None else self.graph.node(name)

    def put(self, node: Node, why: str, caused_by: str | None = None, **payload: Any) -> None:
        old = self.get(node.name)
        self.out.nodes[node.name] = node
        if old.status is not node.status:
            self.out.changes.append(
                StatusChange(node.name, old.status, node.status, why, caused_by)
            )
        self.out.events.append(
            Event(
                type=why,
                node=node.name,
                old=old.status,
                new=node.status,
                actor=self.out.actor,
                at=self.out.at,
                why=why,
                caused_by=caused_by,
                payload=payload,
            )
        )
        if node.status is Status.OPEN:
            self.out.check.add(node.name)
        if node.status in READY and old.status not in READY:
            self.out.check.update(self.graph.downstream(node.name))

    def stop_attempt(self, node: Node) -> Node:
        """Stop a running node's live attempt; its late result will be stale."""
        token = node.live_token
        if token is None:
            return node
        self.out.stop.append((node.name, token))
        last = node.attempts[-1]
        stopped = replace(last, result="stopped", ended_at=self.out.at)
        return replace(node, attempts=(*node.attempts[:-1], stopped))

    def snapshot(self, node: Node, why: str, caused_by: str | None) -> Node:
        """Freeze the node's configuration and attempts as it leaves a retryable status."""
        node = self.stop_attempt(node)
        snap = Snapshot(
            node=node.name,
            number=node.snapshot_count + 1,
            patch=dict(node.patch),
            status=node.status,
            attempts=node.attempts,
            at=self.out.at,
            actor=self.out.actor,
            why=why,
            caused_by=caused_by,
        )
        self.out.snapshots.append(snap)
        return replace(node, snapshot_count=snap.number, attempts=())


def _article(status: Status) -> str:
    return "an" if status.value[0] in "aeiou" else "a"


NOTHING_TO_REVERT = "nothing to revert: its patch is empty (retry runs it again)"


def refusal(node: Node, action: Action) -> str | None:
    """Why `action` is not allowed on `node` (None: it is), by the table and the node's patch.

    Replay's snapshot number is checked by `act`, which knows the snapshots.
    """
    if not is_allowed(node.status, action):
        if action is Action.RETRY:
            article = _article(node.status)
            return f"cannot retry {article} {node.status} node: it has not run (update it instead)"
        return f"cannot {action} {_article(node.status)} {node.status} node"
    if action is Action.REVERT and not node.patch:
        return NOTHING_TO_REVERT  # spec Decision: revert needs a patch to undo
    return None


def allowed_actions(node: Node) -> list[Action]:
    """The actions a person may take on this node now, in the table's order: revert only
    with a patch to undo, replay only with a snapshot to restore."""
    return [
        a
        for a in Action
        if refusal(node, a) is None and (a is not Action.REPLAY or node.snapshot_count > 0)
    ]


def target_status(node: Node, target: Target) -> Status:
    return node.submitted if target == "submitted" else Status(target)


def act(
    graph: GraphView,
    action: Action | str,
    selection: Iterable[str],
    *,
    at: float,
    actor: str = "user",
    patch: Mapping[str, Any] | None = None,
    target: Target = "submitted",
    snapshot: int | None = None,
    strict: bool = False,
) -> Outcome:
    """Apply a manual action to a selection of nodes and describe what changes.

    `patch` is the edit for `update` (merged into each node's patch);
    `target` is the start status an update sends nodes to; `snapshot` is the
    snapshot number `replay` restores. Raises `UnknownNode` for names not in the
    graph and `ActionRefused` for a strict selection with ineligible nodes.
    """
    action = Action(action)
    if target not in TARGETS:
        raise ValueError(f"target must be one of submitted, open, holding (got {target!r})")
    if action is Action.UPDATE and patch is None:
        raise ValueError("update needs a patch (retry is an update without one)")
    if action is Action.REPLAY and snapshot is None:
        raise ValueError("replay needs a snapshot number")
    names = list(dict.fromkeys(selection))
    unknown = [n for n in names if not graph.has(n)]
    if unknown:
        raise UnknownNode(unknown)

    work = _Work(graph, Outcome(action=action.value, actor=actor, at=at))
    eligible: list[tuple[Node, Action]] = []
    edited: dict[str, Mapping[str, Any]] = {}  # update: each node's new patch
    for name in names:
        node = graph.node(name)
        step = action
        if action is Action.UPDATE:
            assert patch is not None
            edited[name] = merge_edit(node.base, node.patch, patch)
            if edited[name] == dict(node.patch):
                step = Action.RETRY  # spec Decision: an update that changes nothing is a retry
        reason = refusal(node, step)
        if reason is not None and step is not action:
            reason = f"the patch changes nothing, and a {node.status} node has not run to retry"
        if reason is None and action is Action.REPLAY:
            assert snapshot is not None
            if graph.snapshot(name, snapshot) is None:
                reason = f"has no snapshot {snapshot}"
        if reason is None:
            eligible.append((node, step))
        else:
            work.out.ineligible.append(Ineligible(name, node.status, reason))
    if strict and work.out.ineligible:
        raise ActionRefused(action.value, work.out.ineligible)

    roots: list[str] = []
    for node, step in eligible:
        if action is Action.HOLD:
            work.put(replace(node, status=Status.HOLDING), "hold")
        elif action is Action.UNHOLD:
            work.put(replace(node, status=Status.OPEN), "unhold")
        elif action is Action.SKIP:
            work.put(replace(work.stop_attempt(node), status=Status.SKIPPED), "skip")
        elif action is Action.CANCEL:
            work.put(replace(work.stop_attempt(node), status=Status.CANCELED), "cancel")
            if node.status in READY:  # withdraws readiness: descendants must start over
                roots.append(node.name)
        else:
            new_patch = (
                edited[node.name]
                if node.name in edited
                else _new_patch(graph, node, step, snapshot)
            )
            new = node
            if node.status in RETRYABLE:
                new = work.snapshot(node, step.value, None)
                roots.append(node.name)
            new = replace(new, patch=new_patch, status=target_status(node, target))
            work.put(new, step.value, patch=dict(new_patch))

    _cascade(work, roots, done={n.name for n, _ in eligible})
    return work.out


def _new_patch(
    graph: GraphView, node: Node, action: Action, snapshot: int | None
) -> Mapping[str, Any]:
    """The patch revert, replay and retry give a node (an update's is merged by `act`)."""
    if action is Action.REVERT:
        return {}
    if action is Action.REPLAY:
        assert snapshot is not None
        snap = graph.snapshot(node.name, snapshot)
        assert snap is not None
        return dict(snap.patch)
    return node.patch  # retry: same parameters


def _cascade(work: _Work, roots: list[str], done: set[str]) -> None:
    """Retry every retryable descendant of the roots, once each, in breadth-first order.

    The walk goes through every descendant, whatever its status: a skipped node
    below an open one may still have started descendants of its own.
    """
    seen = set(roots)
    queue: deque[tuple[str, str]] = deque((r, r) for r in roots)
    while queue:
        name, origin = queue.popleft()
        for child in work.graph.downstream(name):
            if child in seen:
                continue
            seen.add(child)
            queue.append((child, origin))
            if child in done:
                continue
            node = work.get(child)
            if node.status in RETRYABLE:
                new = work.snapshot(node, "cascade", origin)
                work.put(replace(new, status=node.submitted), "cascade", caused_by=origin)


# -- one function per action, for readers and callers who prefer names ---------


def hold(graph: GraphView, names: Iterable[str], *, at: float, **kw: Any) -> Outcome:
    return act(graph, Action.HOLD, names, at=at, **kw)


def unhold(graph: GraphView, names: Iterable[str], *, at: float, **kw: Any) -> Outcome:
    return act(graph, Action.UNHOLD, names, at=at, **kw)


def skip(graph: GraphView, names: Iterable[str], *, at: float, **kw: Any) -> Outcome:
    return act(graph, Action.SKIP, names, at=at, **kw)


def cancel(graph: GraphView, names: Iterable[str], *, at: float, **kw: Any) -> Outcome:
    return act(graph, Action.CANCEL, names, at=at, **kw)


def update(
    graph: GraphView, names: Iterable[str], patch: Mapping[str, Any], *, at: float, **kw: Any
) -> Outcome:
    return act(graph, Action.UPDATE, names, at=at, patch=patch, **kw)


def retry(graph: GraphView, names: Iterable[str], *, at: float, **kw: Any) -> Outcome:
    return act(graph, Action.RETRY, names, at=at, **kw)


def revert(graph: GraphView, names: Iterable[str], *, at: float, **kw: Any) -> Outcome:
    return act(graph, Action.REVERT, names, at=at, **kw)


def replay(
    graph: GraphView, names: Iterable[str], snapshot: int, *, at: float, **kw: Any
) -> Outcome:
    return act(graph, Action.REPLAY, names, at=at, snapshot=snapshot, **kw)


__all__ = [
    "NOTHING_TO_REVERT",
    "START",
    "UPDATE_FAMILY",
    "act",
    "allowed_actions",
    "cancel",
    "hold",
    "refusal",
    "replay",
    "retry",
    "revert",
    "skip",
    "target_status",
    "unhold",
    "update",
]
