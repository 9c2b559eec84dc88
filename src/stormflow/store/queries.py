"""Queries shared by the read side and the scheduler's polls."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Select, exists, select
from sqlalchemy.sql.elements import ColumnElement

from stormflow.core import READY, Status

from .schema import edges, nodes
from .view import CHUNK, among

_READY = sorted(s.value for s in READY)
READY_VALUES = _READY


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


def _blocked() -> Select[tuple[int]]:
    """Correlated to `nodes`: an unready upstream node of it."""
    up = nodes.alias("up")
    return (
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


def runnable_query(workflow_id: str | ColumnElement[str]) -> Select[tuple[str]]:
    """Open nodes none of whose direct upstream nodes is unready: they may run now."""
    return select(nodes.c.name).where(
        nodes.c.workflow_id == workflow_id,
        nodes.c.status == Status.OPEN.value,
        ~exists(_blocked()),
    )


def ready_children(workflow_id: str) -> Select[tuple[str]]:
    """Nodes with a ready upstream node (the only non-root nodes that may be runnable)."""
    ready = select(nodes.c.name).where(
        nodes.c.workflow_id == workflow_id, nodes.c.status.in_(_READY)
    )
    return (
        select(edges.c.downstream)
        .where(edges.c.workflow_id == workflow_id, edges.c.upstream.in_(ready))
        .distinct()
    )


def runnable_among(conn: Connection, workflow_id: str, names: Sequence[str]) -> list[str]:
    """The runnable ones of these nodes, sorted."""
    found: list[str] = []
    for i in range(0, len(names), CHUNK):
        query = select(nodes.c.name).where(
            nodes.c.workflow_id == workflow_id,
            nodes.c.status == Status.OPEN.value,
            ~exists(_blocked()),
        )
        found.extend(conn.execute(among(conn, query, nodes.c.name, names[i : i + CHUNK])).scalars())
    return sorted(found)


def open_roots(conn: Connection, workflow_id: str, roots: Sequence[str]) -> list[str]:
    """The open ones of the workflow's roots (nodes without upstream): runnable by
    definition. `roots` comes from the cached adjacency."""
    found: list[str] = []
    for i in range(0, len(roots), CHUNK):
        query = select(nodes.c.name, nodes.c.status).where(nodes.c.workflow_id == workflow_id)
        rows = conn.execute(among(conn, query, nodes.c.name, roots[i : i + CHUNK]))
        found.extend(n for n, s in rows if s == Status.OPEN.value)
    return sorted(found)


def has_open_root(conn: Connection, workflow_id: str) -> bool:
    """Whether an open node has no upstream node, in SQL (index probes on the edges), for
    when the workflow's adjacency is not cached: loading a 200,000-node one takes seconds."""
    upstream = (
        select(1)
        .where(edges.c.workflow_id == workflow_id, edges.c.downstream == nodes.c.name)
        .exists()
    )
    query = select(
        select(1)
        .where(nodes.c.workflow_id == workflow_id, nodes.c.status == Status.OPEN.value, ~upstream)
        .exists()
    )
    return bool(conn.execute(query).scalar())


def has_runnable(conn: Connection, workflow_id: str, roots: Sequence[str] | None) -> bool:
    """Whether some open node may run now: an open root; else, if any node is ready, the
    first open node found with every upstream node ready. Without a ready node, every
    non-root node has an unready upstream node, so none may run."""
    if roots is None:
        if has_open_root(conn, workflow_id):
            return True
    elif open_roots(conn, workflow_id, roots):
        return True
    ready = exists().where(nodes.c.workflow_id == workflow_id, nodes.c.status.in_(_READY))
    if not conn.execute(select(ready)).scalar():
        return False
    return bool(conn.execute(select(exists(runnable_query(workflow_id)))).scalar())
