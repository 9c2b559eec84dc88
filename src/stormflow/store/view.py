"""`StoreView`: the core's `GraphView` over the tables, loading only what an action reaches.

Node rows (with their current run's attempts) are loaded by name on first use and
cached for the transaction. When the core asks for a node's children or parents,
they are remembered as a batch, and the first of them it reads loads the whole
batch in a few IN queries: a cascade over 100,000 children costs a handful of
round trips, while `succeed` (which only lists the children) reads none of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ARRAY, Connection, Row, Text, any_, literal, select
from sqlalchemy.sql.elements import ColumnElement

from stormflow.core import Attempt, Node, Snapshot, Status

from .schema import attempts, edges, nodes, snapshots

CHUNK = 5000


@dataclass(frozen=True, slots=True)
class Adjacency:
    """A workflow's node names and edges; immutable after submit, so cached process-wide."""

    names: frozenset[str]
    up: dict[str, tuple[str, ...]]
    down: dict[str, tuple[str, ...]]


def load_adjacency(conn: Connection, workflow_id: str) -> Adjacency:
    names = conn.execute(select(nodes.c.name).where(nodes.c.workflow_id == workflow_id))
    up: defaultdict[str, list[str]] = defaultdict(list)
    down: defaultdict[str, list[str]] = defaultdict(list)
    rows = conn.execute(
        select(edges.c.upstream, edges.c.downstream)
        .where(edges.c.workflow_id == workflow_id)
        .order_by(edges.c.upstream, edges.c.downstream)
    )
    for u, d in rows:
        down[u].append(d)
        up[d].append(u)
    return Adjacency(
        names=frozenset(n for (n,) in names),
        up={k: tuple(v) for k, v in up.items()},
        down={k: tuple(v) for k, v in down.items()},
    )


def attempt_from_row(row: Row[Any]) -> Attempt:
    return Attempt(
        number=row.number,
        token=row.token,
        created_at=row.created_at,
        not_before=row.not_before,
        started_at=row.started_at,
        ended_at=row.ended_at,
        result=row.result,
        exit_code=row.exit_code,
        error=row.error,
        worker=row.worker,
        log=row.log,
    )


def node_from_row(row: Row[Any], runs: Sequence[Attempt]) -> Node:
    return Node(
        name=row.name,
        status=Status(row.status),
        submitted=Status(row.submitted),
        base=row.base,
        patch=row.patch,
        attempts=tuple(runs),
        snapshot_count=row.snapshot_count,
        attempt_seq=row.attempt_seq,
    )


NODE_COLUMNS = (
    nodes.c.name,
    nodes.c.status,
    nodes.c.submitted,
    nodes.c.base,
    nodes.c.patch,
    nodes.c.snapshot_count,
    nodes.c.attempt_seq,
)


_ATTEMPT_COLUMNS = tuple(
    attempts.c[name].label(f"a_{name}")
    for name in (
        "id",
        "number",
        "token",
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
)


def name_in(
    conn: Connection, column: ColumnElement[str], names: Sequence[str]
) -> ColumnElement[bool]:
    """`column IN names`. On PostgreSQL one array parameter: the planner hashes it, where
    thousands of separate parameters would be compared one by one against every row."""
    if conn.dialect.name == "postgresql":
        return column == any_(literal(list(names), ARRAY(Text)))
    return column.in_(names)


def load_nodes(conn: Connection, workflow_id: str, names: Sequence[str]) -> dict[str, Node]:
    """Nodes by name with their current run's attempts.

    One node: one outer-join query (the common case, one round trip). A batch: two
    plain IN queries per chunk, whose cost stays linear even when the planner's
    statistics are stale right after a bulk write (a join then may nest loops).
    """
    if len(names) == 1:
        return _load_one(conn, workflow_id, names[0])
    found: dict[str, Node] = {}
    for i in range(0, len(names), CHUNK):
        chunk = names[i : i + CHUNK]
        runs: defaultdict[str, list[Attempt]] = defaultdict(list)
        att_rows = conn.execute(
            select(attempts)
            .where(
                attempts.c.workflow_id == workflow_id,
                name_in(conn, attempts.c.node, chunk),
                attempts.c.snapshot.is_(None),
            )
            .order_by(attempts.c.id)
        )
        for row in att_rows:
            runs[row.node].append(attempt_from_row(row))
        node_rows = conn.execute(
            select(*NODE_COLUMNS).where(
                nodes.c.workflow_id == workflow_id, name_in(conn, nodes.c.name, chunk)
            )
        )
        for row in node_rows:
            found[row.name] = node_from_row(row, runs.get(row.name, ()))
    return found


def _load_one(conn: Connection, workflow_id: str, name: str) -> dict[str, Node]:
    current_run = (
        (attempts.c.workflow_id == nodes.c.workflow_id)
        & (attempts.c.node == nodes.c.name)
        & attempts.c.snapshot.is_(None)
    )
    rows = conn.execute(
        select(*NODE_COLUMNS, *_ATTEMPT_COLUMNS)
        .select_from(nodes.outerjoin(attempts, current_run))
        .where(nodes.c.workflow_id == workflow_id, nodes.c.name == name)
        .order_by(attempts.c.id)
    ).all()
    if not rows:
        return {}
    runs = [
        Attempt(
            number=r.a_number,
            token=r.a_token,
            created_at=r.a_created_at,
            not_before=r.a_not_before,
            started_at=r.a_started_at,
            ended_at=r.a_ended_at,
            result=r.a_result,
            exit_code=r.a_exit_code,
            error=r.a_error,
            worker=r.a_worker,
            log=r.a_log,
        )
        for r in rows
        if r.a_id is not None
    ]
    return {name: node_from_row(rows[0], runs)}


def load_snapshots(
    conn: Connection, workflow_id: str, name: str, number: int | None = None
) -> list[Snapshot]:
    """A node's snapshots, oldest first (or just snapshot `number`), each with its attempts."""
    query = select(snapshots).where(
        snapshots.c.workflow_id == workflow_id, snapshots.c.node == name
    )
    att_query = select(attempts).where(
        attempts.c.workflow_id == workflow_id,
        attempts.c.node == name,
        attempts.c.snapshot.is_not(None),
    )
    if number is not None:
        query = query.where(snapshots.c.number == number)
        att_query = att_query.where(attempts.c.snapshot == number)
    runs: defaultdict[int, list[Attempt]] = defaultdict(list)
    for row in conn.execute(att_query.order_by(attempts.c.id)):
        runs[row.snapshot].append(attempt_from_row(row))
    return [
        snapshot_from_row(row, runs.get(row.number, ()))
        for row in conn.execute(query.order_by(snapshots.c.number))
    ]


def snapshot_from_row(row: Row[Any], runs: Sequence[Attempt]) -> Snapshot:
    return Snapshot(
        node=row.node,
        number=row.number,
        patch=row.patch,
        status=Status(row.status),
        attempts=tuple(runs),
        at=row.at,
        actor=row.actor,
        why=row.why,
        caused_by=row.caused_by,
    )


class StoreView:
    """Read-only `GraphView` of one workflow inside one transaction.

    The nodes it hands out are the state before the action: `original(name)` is
    what the persister compares the outcome against.
    """

    def __init__(self, conn: Connection, workflow_id: str, adjacency: Adjacency) -> None:
        self._conn = conn
        self.workflow_id = workflow_id
        self._adj = adjacency
        self._nodes: dict[str, Node] = {}
        self._batch_of: dict[str, tuple[str, ...]] = {}
        self._snapshots: dict[tuple[str, int], Snapshot | None] = {}

    # -- GraphView -------------------------------------------------------
    def node(self, name: str) -> Node:
        found = self._nodes.get(name)
        if found is not None:
            return found
        if name not in self._adj.names:
            raise KeyError(name)
        batch = self._batch_of.pop(name, None)
        self.prefetch(batch if batch is not None else (name,))
        return self._nodes[name]

    def status(self, name: str) -> Status:
        return self.node(name).status

    def has(self, name: str) -> bool:
        return name in self._adj.names

    def upstream(self, name: str) -> Sequence[str]:
        return self._remember(self._adj.up.get(name, ()))

    def downstream(self, name: str) -> Sequence[str]:
        return self._remember(self._adj.down.get(name, ()))

    def snapshot(self, name: str, number: int) -> Snapshot | None:
        key = (name, number)
        if key not in self._snapshots:
            found = load_snapshots(self._conn, self.workflow_id, name, number)
            self._snapshots[key] = found[0] if found else None
        return self._snapshots[key]

    # -- for the store ---------------------------------------------------
    def prefetch(self, names: Iterable[str]) -> None:
        missing = [n for n in dict.fromkeys(names) if n not in self._nodes]
        if missing:
            self._nodes.update(load_nodes(self._conn, self.workflow_id, missing))

    def original(self, name: str) -> Node:
        return self.node(name)

    def _remember(self, names: tuple[str, ...]) -> tuple[str, ...]:
        if len(names) > 1:
            for n in names:
                if n not in self._nodes:
                    self._batch_of.setdefault(n, names)
        return names
