"""Queries shared by the read side and the scheduler's polls."""

from __future__ import annotations

from sqlalchemy import Select, exists, select
from sqlalchemy.sql.elements import ColumnElement

from stormflow.core import READY, Status

from .schema import edges, nodes

_READY = sorted(s.value for s in READY)


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


def runnable_query(workflow_id: str | ColumnElement[str]) -> Select[tuple[str]]:
    """Open nodes none of whose direct upstream nodes is unready: they may run now."""
    up = nodes.alias("up")
    blocked = (
        select(1)
        .select_from(
            edges.join(
                up, (up.c.workflow_id == edges.c.workflow_id) & (up.c.name == edges.c.upstream)
            )
        )
        .where(
            edges.c.workflow_id == nodes.c.workflow_id,
            edges.c.downstream == nodes.c.name,
            up.c.status.not_in(_READY),
        )
    )
    return select(nodes.c.name).where(
        nodes.c.workflow_id == workflow_id,
        nodes.c.status == Status.OPEN.value,
        ~exists(blocked),
    )
