"""Write an `Outcome` exactly as `core.Graph.apply` would, with bulk statements.

Node rows are rewritten; attempts are inserted or updated (an attempt that moved
into a snapshot gets its `snapshot` number); snapshots and events are appended;
limit slots held by attempts that ended are released. Every statement is one
executemany, so a cascade over 100,000 nodes is a few statements, not 100,000.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, bindparam, delete, update

from stormflow.core import Attempt, Event, Outcome

from .db import chunks
from .schema import attempts, events, limit_usage, nodes, snapshots, workflows
from .view import StoreView

_ATTEMPT_FIELDS = (
    "number",
    "created_at",
    "not_before",
    "started_at",
    "ended_at",
    "result",
    "exit_code",
    "error",
    "worker",
    "log",
)


def _attempt_values(a: Attempt) -> dict[str, Any]:
    return {f: getattr(a, f) for f in _ATTEMPT_FIELDS}


def persist(
    conn: Connection,
    view: StoreView,
    outcome: Outcome,
    *,
    last_seq: int,
    correlation: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[int | None, int | None]:
    """Persist the outcome inside the caller's transaction; returns (first_seq, last_seq)."""
    wf = view.workflow_id
    touched = list(dict.fromkeys([*outcome.nodes, *(s.node for s in outcome.snapshots)]))
    before: dict[str, Attempt] = {}
    for name in touched:
        for a in view.original(name).attempts:
            before[a.token] = a

    # where every attempt of the touched nodes ends up: a snapshot, or the current run
    after: dict[str, tuple[str, Attempt, int | None]] = {}
    for snap in outcome.snapshots:
        for a in snap.attempts:
            after[a.token] = (snap.node, a, snap.number)
    for name, node in outcome.nodes.items():
        for a in node.attempts:
            after[a.token] = (name, a, None)

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    ended: list[str] = []
    for token, (name, a, snap_no) in after.items():
        old = before.get(token)
        if old is None:
            inserts.append(
                {"workflow_id": wf, "node": name, "token": token, "snapshot": snap_no}
                | _attempt_values(a)
            )
        elif old != a or snap_no is not None:
            updates.append({"b_wf": wf, "b_token": token, "snapshot": snap_no} | _attempt_values(a))
        if a.ended and (old is None or not old.ended):
            ended.append(token)

    if outcome.nodes:
        conn.execute(
            update(nodes)
            .where(nodes.c.workflow_id == bindparam("b_wf"), nodes.c.name == bindparam("b_name"))
            .values(
                status=bindparam("status"),
                patch=bindparam("patch"),
                snapshot_count=bindparam("snapshot_count"),
                attempt_seq=bindparam("attempt_seq"),
            ),
            [
                {
                    "b_wf": wf,
                    "b_name": n.name,
                    "status": n.status.value,
                    "patch": dict(n.patch),
                    "snapshot_count": n.snapshot_count,
                    "attempt_seq": n.attempt_seq,
                }
                for n in outcome.nodes.values()
            ],
        )
    if outcome.snapshots:
        conn.execute(
            snapshots.insert(),
            [
                {
                    "workflow_id": wf,
                    "node": s.node,
                    "number": s.number,
                    "patch": dict(s.patch),
                    "status": s.status.value,
                    "at": s.at,
                    "actor": s.actor,
                    "why": s.why,
                    "caused_by": s.caused_by,
                }
                for s in outcome.snapshots
            ],
        )
    if inserts:
        conn.execute(attempts.insert(), inserts)
    if updates:
        conn.execute(
            update(attempts)
            .where(
                attempts.c.workflow_id == bindparam("b_wf"),
                attempts.c.token == bindparam("b_token"),
            )
            .values({f: bindparam(f) for f in (*_ATTEMPT_FIELDS, "snapshot")}),
            updates,
        )
    for chunk in chunks(ended):
        conn.execute(
            delete(limit_usage).where(
                limit_usage.c.workflow_id == wf, limit_usage.c.token.in_(chunk)
            )
        )
    return append_events(
        conn,
        wf,
        outcome.events,
        last_seq=last_seq,
        correlation=correlation,
        idempotency_key=idempotency_key,
    )


def append_events(
    conn: Connection,
    workflow_id: str,
    items: list[Event],
    *,
    last_seq: int,
    correlation: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[int | None, int | None]:
    """Append events with consecutive seqs (the caller holds the workflow lock).

    With an idempotency key the first event carries it and the others `key#2`,
    `key#3`..., so the unique index refuses a second application of the request.
    """
    if not items:
        return None, None
    first = last_seq + 1
    rows = []
    for i, ev in enumerate(items):
        key = None
        if idempotency_key is not None:
            key = idempotency_key if i == 0 else f"{idempotency_key}#{i + 1}"
        rows.append(
            {
                "workflow_id": workflow_id,
                "seq": first + i,
                "type": ev.type,
                "node": ev.node,
                "old": ev.old.value if ev.old is not None else None,
                "new": ev.new.value if ev.new is not None else None,
                "actor": ev.actor,
                "at": ev.at,
                "why": ev.why,
                "caused_by": ev.caused_by,
                "payload": _plain(ev.payload),
                "correlation": correlation,
                "idempotency_key": key,
            }
        )
    conn.execute(events.insert(), rows)
    last = first + len(items) - 1
    conn.execute(update(workflows).where(workflows.c.id == workflow_id).values(last_seq=last))
    return first, last


def _plain(payload: Mapping[str, Any]) -> dict[str, Any]:
    return dict(payload)
