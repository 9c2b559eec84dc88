"""A workflow's summary on its own row: the derived status and the nodes per status.

Kept by the transactions that change node statuses (`persist`, `submit`), under the
workflow's lock, from the row read with the lock (`Head`) and the outcome's changes: no
count over the nodes. The scheduler finds workflows with work (status "running") and the
list filters by status along the workflows' indexes (migration 0004).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from stormflow.core import Outcome, Status, derive_status

from .driver import driver
from .queries import find_runnable
from .view import StoreView

#: The count columns, in `Status` order.
COUNT_COLUMNS = tuple(f"count_{s.value}" for s in Status)

#: What a locked transaction reads of its workflow's row.
HEAD_COLUMNS = ("last_seq", "archived", "status", *COUNT_COLUMNS)


@dataclass(slots=True)
class Head:
    """The workflow's row as its lock found it."""

    last_seq: int
    archived: bool
    status: str
    counts: dict[Status, int]


def head_from_row(row: Sequence[Any]) -> Head:
    counts = {s: int(n) for s, n in zip(Status, row[3:], strict=True)}
    return Head(int(row[0]), bool(row[1]), str(row[2]), counts)


def read_head(conn: Connection, workflow_id: str) -> Head | None:
    rows = driver(conn).rows(
        f"SELECT {', '.join(HEAD_COLUMNS)} FROM workflows WHERE id = ?", (workflow_id,)
    )
    return head_from_row(rows[0]) if rows else None


def counts_of(row: Any) -> dict[Status, int]:
    """Nodes per status from a workflows row with named columns."""
    return {s: int(getattr(row, column)) for s, column in zip(Status, COUNT_COLUMNS, strict=True)}


def status_of(
    conn: Connection, workflow_id: str, counts: Mapping[Status, int], view: StoreView | None
) -> str:
    """The derived status from these counts. Whether an open node may run is asked only when
    nothing runs (a read of the workflow's unready nodes, after this transaction's writes)."""
    runnable = 0
    if not counts.get(Status.RUNNING) and counts.get(Status.OPEN) and view is not None:
        runnable = len(find_runnable(conn, workflow_id, view.adjacency, limit=1))
    return derive_status(counts, runnable).value


def summarize_outcome(
    conn: Connection, view: StoreView, outcome: Outcome, head: Head
) -> tuple[dict[Status, int], str] | None:
    """The new (counts, status) after the outcome's node changes, or None if none changed."""
    counts = dict(head.counts)
    changed = False
    for name, node in outcome.nodes.items():
        old = view.original(name).status
        if old is not node.status:
            counts[old] -= 1
            counts[node.status] += 1
            changed = True
    if not changed:
        return None
    return counts, status_of(conn, view.workflow_id, counts, view)


def summary_sets(counts: Mapping[Status, int], status: str) -> tuple[str, tuple[Any, ...]]:
    """`status = ?, count_open = ?, ...` and its parameters, for an UPDATE of workflows."""
    sets = ", ".join(f"{column} = ?" for column in ("status", *COUNT_COLUMNS))
    return sets, (status, *(counts.get(s, 0) for s in Status))
