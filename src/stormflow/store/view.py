"""`StoreView`: the core's `GraphView` over the tables, loading only what an action reaches.

Node rows (with their current run's attempts) are loaded by name on first use and
cached for the transaction. When the core asks for a node's children or parents,
they are remembered as a batch, and the first of them it reads loads the whole
batch in a few IN queries: a cascade over 100,000 children costs a handful of
round trips, while `succeed` (which only lists the children) reads none of them.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    Row,
    Select,
    Text,
    func,
    literal,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from stormflow.core import READY, STATUS_OF, Attempt, Node, Snapshot, Status

from .driver import Driver, driver, read
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


#: The attempts table's columns that make an `Attempt`, in the dataclass's field order.
ATTEMPT_COLUMNS = tuple(f.name for f in fields(Attempt))


def attempt_from_row(row: Any) -> Attempt:
    """An attempt from a row with named columns (SQLAlchemy)."""
    return Attempt(*(getattr(row, name) for name in ATTEMPT_COLUMNS))


def node_from_row(row: Row[Any], runs: Sequence[Attempt]) -> Node:
    return Node(
        name=row.name,
        status=STATUS_OF[row.status],
        submitted=STATUS_OF[row.submitted],
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


def _patch(text: str) -> dict[str, Any]:
    return {} if text == "{}" else dict(json.loads(text))


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


def _send_named(
    db: Driver,
    workflow_id: str,
    names: list[str],
    select: str,
    table: str,
    column: str,
    tail: str = "",
) -> Any:
    """`SELECT select FROM table x` for the workflow's rows whose `column` is in `names`
    (sent: the cursor's rows are read later)."""
    if db.postgres:
        join = f" JOIN unnest(?::text[]) AS u(name) ON x.{column} = u.name"
        sql = f"SELECT {select} FROM {table} x{join} WHERE x.workflow_id = ?{tail}"
        return db.send(sql, (names, workflow_id))
    among = f" AND x.{column} IN ({', '.join('?' * len(names))})"
    sql = f"SELECT {select} FROM {table} x WHERE x.workflow_id = ?{among}{tail}"
    return db.send(sql, (workflow_id, *names))


def send_nodes(db: Driver, workflow_id: str, names: Sequence[str]) -> Callable[[], dict[str, Node]]:
    """Send the queries loading these nodes (as `load_nodes`); the returned function reads
    them. On PostgreSQL, inside a pipeline, they share the round trip of what is sent with
    them (the workflow lock, see `Database.locked`)."""
    if len(names) <= FEW:
        # One outer-join query: each node's row once per attempt of its current run.
        if db.postgres:
            cursor = db.send(_few_sql(True, 0), (workflow_id, list(names)))
        else:
            cursor = db.send(_few_sql(False, len(names)), (workflow_id, *names))

        def few() -> dict[str, Node]:
            runs: defaultdict[str, list[Attempt]] = defaultdict(list)
            first: dict[str, Sequence[Any]] = {}
            for r in read(cursor):
                first.setdefault(r[0], r)
                if r[7] is not None:
                    runs[r[0]].append(_attempt(r, 8))
            return {name: _node(r, runs.get(name, ()), lazy=False) for name, r in first.items()}

        return few
    sent = []
    for i in range(0, len(names), CHUNK):
        chunk = list(names[i : i + CHUNK])
        select = f"x.node, {_attempt_select('x')}"
        tail = " AND x.snapshot IS NULL ORDER BY x.id"
        attempts_cursor = _send_named(db, workflow_id, chunk, select, "attempts", "node", tail)
        select = _node_select(db.postgres, "x")
        sent.append((attempts_cursor, _send_named(db, workflow_id, chunk, select, "nodes", "name")))

    def many() -> dict[str, Node]:
        found: dict[str, Node] = {}
        for attempts_cursor, nodes_cursor in sent:
            runs: defaultdict[str, list[Attempt]] = defaultdict(list)
            for r in read(attempts_cursor):
                runs[r[0]].append(_attempt(r, 1))
            for r in read(nodes_cursor):
                found[r[0]] = _node(r, runs.get(r[0], ()))
        return found

    return many


def load_nodes(conn: Connection, workflow_id: str, names: Sequence[str]) -> dict[str, Node]:
    """Nodes by name with their current run's attempts.

    Up to FEW nodes: one outer-join query (the per-task path). More: two queries
    per chunk of names, on PostgreSQL joined to `unnest(array)` (see `among`).
    """
    return send_nodes(driver(conn), workflow_id, names)() if names else {}


# Driver SQL for the per-task path (see `driver`): a node row, then its current run's
# attempts. JSON columns come as text (jsonb's canonical text on PostgreSQL) for LazyJson.
def _node_select(pg: bool, alias: str) -> str:
    cast = "::text" if pg else ""
    return (
        f"{alias}.name, {alias}.status, {alias}.submitted, {alias}.base{cast},"
        f" {alias}.patch{cast}, {alias}.snapshot_count, {alias}.attempt_seq"
    )


def _attempt_select(alias: str) -> str:
    return ", ".join(f"{alias}.{name}" for name in ATTEMPT_COLUMNS)


_ATTEMPT_SELECT = _attempt_select("a")


def _attempt(r: Sequence[Any], i: int) -> Attempt:
    """The attempt whose columns (`_attempt_select`) start at index `i` of a driver row."""
    return Attempt(*r[i : i + len(ATTEMPT_COLUMNS)])


def _node(r: Sequence[Any], runs: Sequence[Attempt], *, lazy: bool = True) -> Node:
    """A node from the columns of `_node_select` at the start of a driver row."""
    return Node(
        name=r[0],
        status=STATUS_OF[r[1]],
        submitted=STATUS_OF[r[2]],
        base=LazyJson(r[3]) if lazy else json.loads(r[3]),
        patch=_patch(r[4]),
        attempts=tuple(runs),
        snapshot_count=r[5],
        attempt_seq=r[6],
    )


#: Up to this many nodes are read by one outer-join query (the per-task path reads 1-6);
#: more by two queries per chunk (a node's configuration is not sent once per attempt).
FEW = 16


@functools.cache
def _few_sql(pg: bool, count: int) -> str:
    """Nodes by name with their current run's attempts (the node columns repeat per attempt;
    `a.id` is null for a node without one). PostgreSQL: one text for any count (an array)."""
    among = "= ANY(?)" if pg else f"IN ({', '.join('?' * count)})"
    return (
        f"SELECT {_node_select(pg, 'n')}, a.id, {_ATTEMPT_SELECT} FROM nodes n"
        " LEFT JOIN attempts a ON a.workflow_id = n.workflow_id AND a.node = n.name"
        f" AND a.snapshot IS NULL WHERE n.workflow_id = ? AND n.name {among} ORDER BY a.id"
    )


def _edge_sides(batch: Batch) -> tuple[str, str]:
    """(the batch's own edge column, the column naming its members)."""
    return ("upstream", "downstream") if batch[0] == "down" else ("downstream", "upstream")


def load_batch(
    conn: Connection, workflow_id: str, batch: Batch, skip: Mapping[str, Any]
) -> dict[str, Node]:
    """The nodes of an edge batch (a node's children or parents) with their current run's
    attempts, joined through the edges: two queries however large, no name list sent."""
    db = driver(conn)
    this, other = _edge_sides(batch)
    params = (workflow_id, batch[1])
    runs: defaultdict[str, list[Attempt]] = defaultdict(list)
    for r in db.rows(
        f"SELECT a.node, {_ATTEMPT_SELECT} FROM edges e JOIN attempts a"
        f" ON a.workflow_id = e.workflow_id AND a.node = e.{other} AND a.snapshot IS NULL"
        f" WHERE e.workflow_id = ? AND e.{this} = ? ORDER BY a.id",
        params,
    ):
        if r[0] not in skip:
            runs[r[0]].append(_attempt(r, 1))
    found: dict[str, Node] = {}
    for r in db.rows(
        f"SELECT {_node_select(db.postgres, 'n')} FROM edges e JOIN nodes n"
        f" ON n.workflow_id = e.workflow_id AND n.name = e.{other}"
        f" WHERE e.workflow_id = ? AND e.{this} = ?",
        params,
    ):
        if r[0] not in skip:
            found[r[0]] = _node(r, runs.pop(r[0], ()))
    return found


def load_batch_statuses(
    conn: Connection,
    workflow_id: str,
    batch: Batch,
    after: str | None,
    limit: int,
    *,
    descending: bool = False,
) -> dict[str, Status]:
    """Statuses of an edge batch's nodes that are *not* succeeded (name and status only),
    in name order, names above `after`, at most `limit`: every other node of the batch is
    succeeded. A fan-in whose 500 parents succeeded answers with no rows.

    `descending`: from the last name down in the database's own order (the edge index's,
    read backwards: the query stops at `limit` rows however large the batch), names below
    `after` (None: from the very last); the next page starts below the last row's name.
    Ascending pages are in code point order, as Python compares (`max(page)` bounds the
    next), which on PostgreSQL means sorting the batch."""
    db = driver(conn)
    this, other = _edge_sides(batch)
    if descending:
        bound = f" AND e.{other} < ?" if after is not None else ""
        params: tuple[Any, ...] = (after,) if after is not None else ()
        order = f"e.{other} DESC"
    else:
        collate = ' COLLATE "C"' if db.postgres else ""  # code point order, as Python's
        bound, params = f" AND n.name{collate} > ?", (after or "",)
        order = f"n.name{collate}"
    rows = db.rows(
        f"SELECT n.name, n.status FROM edges e JOIN nodes n"
        f" ON n.workflow_id = e.workflow_id AND n.name = e.{other}"
        f" WHERE e.workflow_id = ? AND e.{this} = ? AND n.status <> 'succeeded'{bound}"
        f" ORDER BY {order} LIMIT ?",
        (workflow_id, batch[1], *params, limit),
    )
    return {name: STATUS_OF[status] for name, status in rows}


def load_status(conn: Connection, workflow_id: str, name: str) -> Status | None:
    rows = driver(conn).rows(
        "SELECT status FROM nodes WHERE workflow_id = ? AND name = ?", (workflow_id, name)
    )
    return STATUS_OF[rows[0][0]] if rows else None


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
        status=STATUS_OF[row.status],
        attempts=tuple(runs),
        at=row.at,
        actor=row.actor,
        why=row.why,
        caused_by=row.caused_by,
    )


#: How `StoreView.status` answers for a node not loaded yet: "batch" loads the
#: non-succeeded statuses of the edge batch it was listed in, a page of names at a time
#: (one light query; the core reads a fan-in's parents in name order and stops at the
#: first one not ready), "single" loads its status alone.
STATUS_LOADING = "batch"
STATUS_PAGE = 32
FIRST_STATUS_PAGE = 4


class StoreView:
    """Read-only `GraphView` of one workflow inside one transaction.

    The nodes it hands out are the state before the action: `original(name)` is
    what the persister compares the outcome against.

    Names the core listed together (a node's children or parents) form an edge
    batch: the first of them it reads loads the whole batch through the edges, and
    the first status it asks of one loads a page of the batch's statuses (name and
    status only, and only those not succeeded; see `STATUS_LOADING`).
    """

    def __init__(self, conn: Connection, workflow_id: str, adjacency: Adjacency) -> None:
        self._conn = conn
        self.workflow_id = workflow_id
        self._adj = adjacency
        self._nodes: dict[str, Node] = {}
        self._statuses: dict[str, Status] = {}
        self._batch_of: dict[str, Batch] = {}
        self._loaded: set[Batch] = set()
        # per batch, statuses known for names up to this one (None: all of them)
        self._status_upto: dict[Batch, str | None] = {}
        self._snapshots: dict[tuple[str, int], Snapshot | None] = {}
        # the workflow's row as the lock found it (summary.Head), set by the store
        self.head: Any = None

    @property
    def adjacency(self) -> Adjacency:
        return self._adj

    @property
    def conn(self) -> Connection:
        """The transaction it reads in: other reads of the same moment go through it."""
        return self._conn

    def kinds(self, names: Sequence[str]) -> dict[str, str]:
        """The kind of each named node."""
        found: dict[str, str] = {}
        for part in (names[i : i + CHUNK] for i in range(0, len(names), CHUNK)):
            query = select(nodes.c.name, nodes.c.kind).where(
                nodes.c.workflow_id == self.workflow_id, nodes.c.name.in_(list(part))
            )
            found.update((n, k) for n, k in self._conn.execute(query))
        return found

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
            self._page_statuses(batch, name)
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

    def unready_upstream(self, name: str) -> Iterator[str]:
        ups = self._adj.up.get(name, ())
        if len(ups) < 2 or STATUS_LOADING != "batch":
            yield from (up for up in self.upstream(name) if self.status(up) not in READY)
            return
        # A fan-in: its parents not succeeded, a page at a time (one light query, not one
        # status read per parent; not through self.upstream, whose batch bookkeeping is
        # O(parents) per call). From the last name down: the scheduler starts a fan-in's
        # parents in name order, so the unready ones are at the end, and each result of a
        # 10,000-chunk render finds one at once instead of stepping over every chunk done
        # so far (quadratic over the render). The first page is small: whether the node
        # may run usually needs one unready parent, or two (one this transaction has just
        # made succeed, which the store does not know yet).
        batch: Batch = ("up", name)
        below: str | None = None
        size = FIRST_STATUS_PAGE
        while True:
            page = load_batch_statuses(
                self._conn, self.workflow_id, batch, below, size, descending=True
            )
            for up, status in page.items():
                self._statuses.setdefault(up, status)
                if status not in READY:
                    yield up
            if len(page) < size:
                return
            below = next(reversed(page))  # the last row: the database's order, not Python's
            size = STATUS_PAGE

    def snapshot(self, name: str, number: int) -> Snapshot | None:
        key = (name, number)
        if key not in self._snapshots:
            found = load_snapshots(self._conn, self.workflow_id, name, number)
            self._snapshots[key] = found[0] if found else None
        return self._snapshots[key]

    def _page_statuses(self, batch: Batch, name: str) -> None:
        """Load the batch's non-succeeded statuses, page by page, until `name` is covered."""
        upto = self._status_upto
        while True:
            last = upto.get(batch, "")
            if last is None or (last and name <= last):
                return
            page = load_batch_statuses(self._conn, self.workflow_id, batch, last, STATUS_PAGE)
            self._statuses.update(page)
            upto[batch] = max(page) if len(page) >= STATUS_PAGE else None

    # -- for the store ---------------------------------------------------
    def preload(self, found: Mapping[str, Node]) -> None:
        """Nodes read with the workflow's lock (`Database.locked`)."""
        self._nodes.update(found)

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

    def unleased(self, tokens: Sequence[str]) -> set[str]:
        """Those of these attempts still owed a result that no one holds a lease on."""
        db = driver(self._conn)
        among, params = db.among("token", tokens)
        rows = db.rows(
            f"SELECT token FROM attempts WHERE workflow_id = ? AND {among}"
            " AND lease_owner IS NULL AND result IS NULL",
            (self.workflow_id, *params),
        )
        return {token for (token,) in rows}
