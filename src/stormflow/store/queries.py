"""Queries shared by the read side and the scheduler's polls."""

from __future__ import annotations

from sqlalchemy import Connection

from stormflow.core import READY, Status

from .driver import driver
from .view import Adjacency


def glob_to_like(glob: str) -> str:
    """A shell glob (* and ?) as a LIKE pattern with backslash escapes."""
    out = []
    for ch in glob:
        if ch in "\\%_":
            out.append("\\" + ch)
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        else:
            out.append(ch)
    return "".join(out)


_UNREADY = sorted(s.value for s in Status if s not in READY)


def find_runnable(
    conn: Connection, workflow_id: str, adjacency: Adjacency, limit: int | None = None
) -> list[str]:
    """Open nodes whose upstream nodes are all ready, sorted (at most `limit`).

    One single-table read (the workflow's unready nodes: name and status) and the cached
    edges, joined here: no plan the database could choose makes it worse than one pass over
    the workflow's rows. The joined forms (an anti-join over edges) are planned from statistics,
    and on stale ones PostgreSQL chose a nested loop that never finished (issue 19).
    """
    db = driver(conn)
    among_, params = db.among("status", _UNREADY)
    rows = db.rows(
        f"SELECT name, status FROM nodes WHERE workflow_id = ? AND {among_}",
        (workflow_id, *params),
    )
    unready = {name for name, _ in rows}
    up = adjacency.up
    found = sorted(
        name
        for name, status in rows
        if status == Status.OPEN.value and not any(p in unready for p in up.get(name, ()))
    )
    return found if limit is None else found[:limit]
