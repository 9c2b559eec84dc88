"""A `workflow` node follows its child workflow (spec: Nodes that stand for work elsewhere).

The node's running covers the child's whole run; the engine succeeds or fails it through the
usual `succeed`/`fail` when the child's derived status becomes succeeded or failed. An
action inside the child can change the child's derived status after the node finished (a
retry of a failed render makes a failed child run again): `reopen` moves the node back to
running procedurally, with a fresh attempt that follows the same child. A node leaving
`succeeded` withdraws its readiness, so its started descendants are cascaded exactly as
if it had been retried: the integrity rule holds in the parent too.
"""

from __future__ import annotations

from dataclasses import replace

from .actions import _cascade, _Work
from .graph import GraphView
from .model import Event, Outcome
from .procedural import _new_attempt
from .statuses import Status

#: The statuses a node leaves when its child runs again: it finished, and no person
#: stopped it (canceled and skipped nodes no longer follow their child).
REOPENABLE = frozenset({Status.SUCCEEDED, Status.FAILED})


def reopen(graph: GraphView, name: str, child: str, *, at: float, why: str) -> Outcome:
    """succeeded|failed -> running with a new attempt, started at once (the child already
    runs: nothing is dispatched). Any other status: an empty outcome (nothing to follow)."""
    node = graph.node(name)
    work = _Work(graph, Outcome(action="reopen", actor="engine", at=at))
    if node.status not in REOPENABLE:
        return work.out
    new, attempt = _new_attempt(node, at, at)
    attempt = replace(attempt, started_at=at, worker=f"child {child}")
    new = replace(new, status=Status.RUNNING, attempts=(*new.attempts[:-1], attempt))
    work.put(new, "reopen", child=child, token=attempt.token, reason=why)
    # the attempt follows a child that already runs: started at once (not queued)
    work.out.events.append(
        Event(
            "attempt-started",
            name,
            at=at,
            payload={"token": attempt.token, "attempt": attempt.number, "worker": attempt.worker},
        )
    )
    if node.status is Status.SUCCEEDED:
        _cascade(work, [name], done={name})
    return work.out
