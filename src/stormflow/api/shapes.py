"""Store records and core objects as the JSON shapes of docs/api.md."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from stormflow.core import Attempt, Outcome, Status
from stormflow.spec import Entry, Severity
from stormflow.store import EventRow, NodeRow, Store, StoredAttempt, WorkflowRow
from stormflow.store.children import ChildRow


def workflow_summary(store: Store, row: WorkflowRow) -> dict[str, Any]:
    """From the row: its summary (status, counts) is kept on it by the transactions that
    change its nodes (store/summary.py), of the last event seq it carries; `phases` costs
    one query, and only while nodes run."""
    counts = row.counts
    return summary_of(row, counts, row.status, store.phases(row.id, counts), row.last_seq)


def parent_out(link: ChildRow | None) -> dict[str, Any] | None:
    """The `parent` of a workflow summary: the node and attempt that started it."""
    if link is None:
        return None
    return {"workflow_id": link.parent_id, "node": link.node, "token": link.token}


def summary_of(
    row: WorkflowRow, counts: Mapping[Status, int], status: str, phases: dict[str, int], seq: int
) -> dict[str, Any]:
    """A WorkflowSummary from what it is made of (counted by the database or in memory)."""
    return {
        "id": row.id,
        "name": row.name,
        "owner": row.owner,
        "created_at": row.created_at,
        "archived": row.archived,
        "expires_at": row.expires_at,
        "expired": row.expires_at is not None and row.expires_at <= time.time(),
        "status": status,
        "counts": {s.value: counts.get(s, 0) for s in Status},
        "phases": phases,
        "total": sum(counts.values()),
        "skipped": counts.get(Status.SKIPPED, 0),
        "seq": seq,
    }


def node_row(row: NodeRow, starts: dict[str, float | None]) -> dict[str, Any]:
    """`starts`: running nodes -> their live attempt's start (Store.starts)."""
    running = row.status is Status.RUNNING
    started_at = starts.get(row.name) if running else None
    return {
        "name": row.name,
        "kind": row.kind,
        "status": row.status.value,
        "group": row.group,
        "frames": row.frames,
        "phase": phase(running, started_at),
        "started_at": started_at,
    }


def phase(running: bool, started_at: float | None) -> str | None:
    """A running node is queued until its attempt's process starts, then executing."""
    if not running:
        return None
    return "queued" if started_at is None else "executing"


def node_starts(store: Store, workflow_id: str, rows: list[NodeRow]) -> dict[str, float | None]:
    """The start times `node_row` needs for these rows, in one query (none if none runs)."""
    running = [r.name for r in rows if r.status is Status.RUNNING]
    return store.starts(workflow_id, running) if running else {}


def attempt_out(attempt: Attempt, snapshot: int | None) -> dict[str, Any]:
    out = attempt.as_dict()
    del out["log"]  # logs are read through the log endpoint, never by path
    out["snapshot"] = snapshot
    return out


def stored_attempt(stored: StoredAttempt) -> dict[str, Any]:
    return attempt_out(stored.attempt, stored.snapshot)


def event_out(row: EventRow) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "type": row.type,
        "node": row.node,
        "old": row.old.value if row.old else None,
        "new": row.new.value if row.new else None,
        "actor": row.actor,
        "at": row.at,
        "why": row.why,
        "caused_by": row.caused_by,
        "payload": dict(row.payload),
        "correlation": row.correlation,
    }


def entries_out(entries: list[Entry]) -> list[dict[str, Any]]:
    return [e.to_dict() for e in entries]


def validation(entries: list[Entry]) -> dict[str, Any]:
    return {
        "entries": entries_out(entries),
        "errors": sum(e.severity is Severity.ERROR for e in entries),
        "warnings": sum(e.severity is Severity.WARNING for e in entries),
    }


def action_answer(outcome: Outcome, selected: int) -> dict[str, Any]:
    """The stored part of an ActionAnswer (sequence numbers and `replayed` are added per reply)."""
    return {
        "action": outcome.action,
        "selected": selected,
        "changed": outcome.changed,
        "cascaded": outcome.cascaded,
        "ineligible": [
            {"node": i.node, "status": i.status.value, "reason": i.reason}
            for i in outcome.ineligible
        ],
        "changes": [
            {
                "node": c.node,
                "old": c.old.value,
                "new": c.new.value,
                "why": c.why,
                "caused_by": c.caused_by,
            }
            for c in outcome.changes
        ],
        "snapshots": [{"node": s.node, "number": s.number} for s in outcome.snapshots],
        "counts": {
            "selected": selected,
            "direct": len(outcome.nodes) - len(outcome.cascaded),
            "cascaded": len(outcome.cascaded),
            "ineligible": len(outcome.ineligible),
            "snapshots": len(outcome.snapshots),
            "stopped": len(outcome.stop),
        },
    }


def counts_of(answer: dict[str, Any]) -> dict[str, int]:
    """An answer's counts from its lists (stopped attempts are not listed: 0)."""
    cascaded = len(answer.get("cascaded") or ())
    return {
        "selected": int(answer.get("selected") or 0),
        "direct": len(answer.get("changed") or ()) - cascaded,
        "cascaded": cascaded,
        "ineligible": len(answer.get("ineligible") or ()),
        "snapshots": len(answer.get("snapshots") or ()),
        "stopped": 0,
    }
