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

from stormflow.core import READY, Outcome, Status, WorkflowStatus, derive_status

from .driver import Driver, driver
from .queries import find_runnable
from .view import Adjacency, StoreView

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
    conn: Connection,
    workflow_id: str,
    counts: Mapping[Status, int],
    view: StoreView | None,
    *,
    candidates: set[str] | None = None,
    was_idle: bool = False,
) -> str:
    """The derived status from these counts. Whether an open node may run is asked only when
    nothing runs (`any_runnable`). `candidates`: the only nodes that may have become
    runnable by this transaction; `was_idle`: before it, nothing ran and nothing could, so
    only they can run now."""
    runnable = 0
    if not counts.get(Status.RUNNING) and counts.get(Status.OPEN) and view is not None:
        runnable = int(any_runnable(conn, workflow_id, view.adjacency, candidates, was_idle))
    return derive_status(counts, runnable).value


#: Candidates (with their parents) checked by name; more: the whole workflow is read.
FEW_CANDIDATES = 2000


def any_runnable(
    conn: Connection,
    workflow_id: str,
    adjacency: Adjacency,
    candidates: set[str] | None = None,
    was_idle: bool = False,
) -> bool:
    """Whether some open node has every upstream node ready. Single-table reads only (no
    plan that statistics could make quadratic): an open root answers at once (a workflow
    not started yet); then the candidates and their parents, by name; then, unless the
    candidates were the only possibility, the workflow's unready nodes (`find_runnable`)."""
    db = driver(conn)
    roots = list(adjacency.roots[:FEW_CANDIDATES])
    if roots and _statuses(db, workflow_id, roots).count(Status.OPEN.value):
        return True
    if candidates is not None:
        names = set(candidates)
        for name in candidates:
            names.update(adjacency.up.get(name, ()))
        if len(names) <= FEW_CANDIDATES:
            found = dict(_named(db, workflow_id, sorted(names)))
            for name in candidates:
                if found.get(name) == Status.OPEN.value and all(
                    found.get(up) in READY_VALUES for up in adjacency.up.get(name, ())
                ):
                    return True
            if was_idle:
                return False
    return bool(find_runnable(conn, workflow_id, adjacency, limit=1))


READY_VALUES = frozenset(s.value for s in READY)


def _named(db: Driver, workflow_id: str, names: Sequence[str]) -> list[tuple[Any, ...]]:
    if not names:
        return []
    among, params = db.among("name", names)
    return db.rows(
        f"SELECT name, status FROM nodes WHERE workflow_id = ? AND {among}",
        (workflow_id, *params),
    )


def _statuses(db: Driver, workflow_id: str, names: Sequence[str]) -> list[str]:
    return [str(status) for _, status in _named(db, workflow_id, names)]


def summarize_outcome(
    conn: Connection, view: StoreView, outcome: Outcome, head: Head
) -> tuple[dict[Status, int], str] | None:
    """The new (counts, status) after the outcome's node changes, or None if none changed."""
    counts = dict(head.counts)
    candidates: set[str] = set()
    down = view.adjacency.down
    changed = False
    for name, node in outcome.nodes.items():
        old = view.original(name).status
        if old is not node.status:
            changed = True
            counts[old] -= 1
            counts[node.status] += 1
            if node.status is Status.OPEN:
                candidates.add(name)
            elif node.status in READY and old not in READY:
                candidates.update(down.get(name, ()))
    if not changed:
        return None
    was_idle = head.status != WorkflowStatus.RUNNING.value
    status = status_of(
        conn, view.workflow_id, counts, view, candidates=candidates, was_idle=was_idle
    )
    return counts, status


def summary_sets(counts: Mapping[Status, int], status: str) -> tuple[str, tuple[Any, ...]]:
    """`status = ?, count_open = ?, ...` and its parameters, for an UPDATE of workflows."""
    sets = ", ".join(f"{column} = ?" for column in ("status", *COUNT_COLUMNS))
    return sets, (status, *(counts.get(s, 0) for s in Status))
