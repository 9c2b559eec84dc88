"""`StoreView`: the core's `GraphView` over the tables, loading only what an action reaches.

Node rows (with their current run's attempts) are loaded by name on first use and
cached for the transaction. When the core asks for a node's children or parents,
they are remembered as a batch, and the first of them it reads loads the whole
batch in a few IN queries: a cascade over 100,000 children costs a handful of
round trips, while `succeed` (which only lists the children) reads none of them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    Row,
    Select,
    Text,
    any_,
    cast,
    func,
    literal,
    select,
    type_coerce,
)
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
    roots: tuple[str, ...] = ()  # nodes without upstream, sorted


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
    every = frozenset(n for (n,) in names)
    return Adjacency(
        names=every,
        up={k: tuple(v) for k, v in up.items()},
        down={k: tuple(v) for k, v in down.items()},
        roots=tuple(sorted(n for n in every if n not in up)),
    )


def attempt_from_row(row: Any) -> Attempt:
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


class LazyJson(Mapping[str, Any]):
    """A JSON object decoded on first read: batch loads hand the core nodes whose `base` a
    cascade never reads. Reads, equality (with dicts too) and `dict(...)` behave as the
    decoded dict's; it is never mutated."""

    __slots__ = ("_text", "_value")

    def __init__(self, text: str) -> None:
        self._text: str | None = text
        self._value: dict[str, Any] | None = None

    def _get(self) -> dict[str, Any]:
        value = self._value
        if value is None:
            assert self._text is not None
            value = self._value = json.loads(self._text)
            self._text = None
        return value

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __contains__(self, key: object) -> bool:
        return key in self._get()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyJson):
            other = other._get()
        if not isinstance(other, Mapping):
            return NotImplemented
        return self._get() == (other if isinstance(other, dict) else dict(other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._get())


def _json_text(conn: Connection, column: ColumnElement[Any]) -> ColumnElement[str]:
    """A JSON column read as its text, undecoded (jsonb's canonical text on PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        return cast(column, Text).label(column.key)
    return type_coerce(column, Text).label(column.key)


def _patch(text: str) -> dict[str, Any]:
    return {} if text == "{}" else dict(json.loads(text))


def _light_columns(conn: Connection) -> tuple[ColumnElement[Any], ...]:
    return (
        nodes.c.name,
        nodes.c.status,
        nodes.c.submitted,
        _json_text(conn, nodes.c.base),
        _json_text(conn, nodes.c.patch),
        nodes.c.snapshot_count,
        nodes.c.attempt_seq,
    )


def _lazy_node(row: Any, runs: Sequence[Attempt]) -> Node:
    return Node(
        name=row.name,
        status=Status(row.status),
        submitted=Status(row.submitted),
        base=LazyJson(row.base),
        patch=_patch(row.patch),
        attempts=tuple(runs),
        snapshot_count=row.snapshot_count,
        attempt_seq=row.attempt_seq,
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

_RUN_COLUMNS = (
    attempts.c.node,
    attempts.c.number,
    attempts.c.token,
    attempts.c.created_at,
    attempts.c.not_before,
    attempts.c.started_at,
    attempts.c.ended_at,
    attempts.c.result,
    attempts.c.exit_code,
    attempts.c.error,
    attempts.c.worker,
    attempts.c.log,
)


def name_in(
    conn: Connection, column: ColumnElement[str], names: Sequence[str]
) -> ColumnElement[bool]:
    """`column IN names`. On PostgreSQL one array parameter: the planner hashes it, where
    thousands of separate parameters would be compared one by one against every row."""
    if conn.dialect.name == "postgresql":
        return column == any_(literal(list(names), ARRAY(Text)))
    return column.in_(names)


def among(
    conn: Connection, stmt: Select[Any], column: ColumnElement[str], names: Sequence[str]
) -> Select[Any]:
    """`stmt` restricted to rows whose `column` is one of `names`. PostgreSQL: joined to
    `unnest(array)`, a join the planner cannot turn into a per-row scan of a long `= ANY`
    filter (its choice for `= ANY` on stale statistics); SQLite: `IN`."""
    if conn.dialect.name == "postgresql":
        table = func.unnest(literal(list(names), ARRAY(Text))).table_valued("name").alias("n")
        return stmt.join(table, column == table.c.name)
    return stmt.where(column.in_(names))


#: An edge batch: ("down", parent) = the parent's children, ("up", child) = its parents.
Batch = tuple[str, str]


def _batch_join(
    batch: Batch, workflow_id: str, name: ColumnElement[str]
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(join condition of `name` to the batch's edge column, the edges filter)."""
    direction, node = batch
    this, other = (
        (edges.c.upstream, edges.c.downstream)
        if direction == "down"
        else (edges.c.downstream, edges.c.upstream)
    )
    return name == other, (edges.c.workflow_id == workflow_id) & (this == node)


def load_nodes(conn: Connection, workflow_id: str, names: Sequence[str]) -> dict[str, Node]:
    """Nodes by name with their current run's attempts.

    One node: one outer-join query (the common case, one round trip). A batch: two
    queries per chunk of names (see `among`).
    """
    if len(names) == 1:
        return _load_one(conn, workflow_id, names[0])
    found: dict[str, Node] = {}
    for i in range(0, len(names), CHUNK):
        chunk = names[i : i + CHUNK]
        runs: defaultdict[str, list[Attempt]] = defaultdict(list)
        att_query = select(*_RUN_COLUMNS).where(
            attempts.c.workflow_id == workflow_id, attempts.c.snapshot.is_(None)
        )
        att_rows = conn.execute(
            among(conn, att_query, attempts.c.node, chunk).order_by(attempts.c.id)
        )
        for row in att_rows:
            runs[row.node].append(attempt_from_row(row))
        node_query = select(*_light_columns(conn)).where(nodes.c.workflow_id == workflow_id)
        for row in conn.execute(among(conn, node_query, nodes.c.name, chunk)):
            found[row.name] = _lazy_node(row, runs.get(row.name, ()))
    return found


def load_batch(
    conn: Connection, workflow_id: str, batch: Batch, skip: Mapping[str, Any]
) -> dict[str, Node]:
    """The nodes of an edge batch (a node's children or parents) with their current run's
    attempts, joined through the edges: two queries however large, no name list sent."""
    runs: defaultdict[str, list[Attempt]] = defaultdict(list)
    on, where = _batch_join(batch, workflow_id, attempts.c.node)
    att_rows = conn.execute(
        select(*_RUN_COLUMNS)
        .select_from(
            edges.join(
                attempts,
                (attempts.c.workflow_id == edges.c.workflow_id)
                & on
                & attempts.c.snapshot.is_(None),
            )
        )
        .where(where)
        .order_by(attempts.c.id)
    )
    for row in att_rows:
        if row.node not in skip:
            runs[row.node].append(attempt_from_row(row))
    on, where = _batch_join(batch, workflow_id, nodes.c.name)
    node_rows = conn.execute(
        select(*_light_columns(conn))
        .select_from(edges.join(nodes, (nodes.c.workflow_id == edges.c.workflow_id) & on))
        .where(where)
    )
    found: dict[str, Node] = {}
    for row in node_rows:
        if row.name not in skip:
            found[row.name] = _lazy_node(row, runs.pop(row.name, ()))
    return found


def load_batch_statuses(conn: Connection, workflow_id: str, batch: Batch) -> dict[str, Status]:
    """Statuses of an edge batch's nodes that are *not* succeeded (name and status only):
    every other node of the batch is succeeded. A fan-in whose 500 parents succeeded
    answers with no rows."""
    on, where = _batch_join(batch, workflow_id, nodes.c.name)
    rows = conn.execute(
        select(nodes.c.name, nodes.c.status)
        .select_from(edges.join(nodes, (nodes.c.workflow_id == edges.c.workflow_id) & on))
        .where(where, nodes.c.status != Status.SUCCEEDED.value)
    )
    return {name: Status(status) for name, status in rows}


def load_status(conn: Connection, workflow_id: str, name: str) -> Status | None:
    found = conn.execute(
        select(nodes.c.status).where(nodes.c.workflow_id == workflow_id, nodes.c.name == name)
    ).scalar_one_or_none()
    return None if found is None else Status(found)


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


#: How `StoreView.status` answers for a node not loaded yet: "batch" loads the
#: non-succeeded statuses of the whole edge batch it was listed in (one light query),
#: "single" loads its status alone.
STATUS_LOADING = "batch"


class StoreView:
    """Read-only `GraphView` of one workflow inside one transaction.

    The nodes it hands out are the state before the action: `original(name)` is
    what the persister compares the outcome against.

    Names the core listed together (a node's children or parents) form an edge
    batch: the first of them it reads loads the whole batch through the edges, and
    the first status it asks of one loads the batch's statuses (name and status
    only, and only those not succeeded).
    """

    def __init__(self, conn: Connection, workflow_id: str, adjacency: Adjacency) -> None:
        self._conn = conn
        self.workflow_id = workflow_id
        self._adj = adjacency
        self._nodes: dict[str, Node] = {}
        self._statuses: dict[str, Status] = {}
        self._batch_of: dict[str, Batch] = {}
        self._loaded: set[Batch] = set()
        self._status_loaded: set[Batch] = set()
        self._snapshots: dict[tuple[str, int], Snapshot | None] = {}

    # -- GraphView -------------------------------------------------------
    def node(self, name: str) -> Node:
        found = self._nodes.get(name)
        if found is not None:
            return found
        if name not in self._adj.names:
            raise KeyError(name)
        batch = self._batch_of.pop(name, None)
        if batch is not None and batch not in self._loaded:
            self._loaded.add(batch)
            self._nodes.update(load_batch(self._conn, self.workflow_id, batch, self._nodes))
        if name not in self._nodes:
            self.prefetch((name,))
        return self._nodes[name]

    def status(self, name: str) -> Status:
        found = self._nodes.get(name)
        if found is not None:
            return found.status
        known = self._statuses.get(name)
        if known is not None:
            return known
        if name not in self._adj.names:
            raise KeyError(name)
        batch = self._batch_of.get(name)
        if batch is not None and STATUS_LOADING == "batch":
            if batch not in self._status_loaded:
                self._status_loaded.add(batch)
                self._statuses.update(load_batch_statuses(self._conn, self.workflow_id, batch))
            return self._statuses.get(name, Status.SUCCEEDED)
        status = load_status(self._conn, self.workflow_id, name)
        assert status is not None
        self._statuses[name] = status
        return status

    def has(self, name: str) -> bool:
        return name in self._adj.names

    def upstream(self, name: str) -> Sequence[str]:
        return self._remember(("up", name), self._adj.up.get(name, ()))

    def downstream(self, name: str) -> Sequence[str]:
        return self._remember(("down", name), self._adj.down.get(name, ()))

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

    def _remember(self, batch: Batch, names: tuple[str, ...]) -> tuple[str, ...]:
        if len(names) > 1 and batch not in self._loaded:
            batch_of = self._batch_of
            for n in names:
                if n not in batch_of:
                    batch_of[n] = batch
        return names
