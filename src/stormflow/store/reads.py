"""Reads: workflows, nodes, edges, history, the event log, counts and derived status."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Text, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from stormflow.core import (
    STATUS_OF,
    Attempt,
    Event,
    Graph,
    Node,
    Snapshot,
    Status,
    WorkflowStatus,
)

from .children import reported_statuses
from .db import Database
from .driver import driver
from .queries import find_runnable, glob_to_like
from .records import EventRow, NodeRow, StoredAttempt, UnknownWorkflow, WorkflowRow
from .schema import attempts, edges, events, nodes, snapshots, workflows
from .summary import COUNT_COLUMNS, counts_of
from .view import (
    CHUNK,
    NODE_COLUMNS,
    among,
    attempt_from_row,
    load_nodes,
    load_snapshots,
    node_from_row,
    snapshot_from_row,
)


def _live_attempt_join() -> ColumnElement[bool]:
    """A node's attempt still owed a result in its current run (a running node has one)."""
    return (
        (attempts.c.workflow_id == nodes.c.workflow_id)
        & (attempts.c.node == nodes.c.name)
        & attempts.c.snapshot.is_(None)
        & attempts.c.result.is_(None)
    )


def workflow_row(row: Any) -> WorkflowRow:
    return WorkflowRow(
        id=row.id,
        name=row.name,
        metadata=row.metadata,
        created_at=row.created_at,
        archived=row.archived,
        expires_at=row.expires_at,
        owner=row.owner,
        status=row.status,
        counts=counts_of(row),
        last_seq=row.last_seq,
    )


#: The workflows columns `_summary_row` reads by position (then the metadata).
_ROW_COLUMNS = (
    "id",
    "name",
    "created_at",
    "archived",
    "expires_at",
    "owner",
    "status",
    "last_seq",
    *COUNT_COLUMNS,
)
_STATUSES = tuple(Status)


def _summary_row(r: Sequence[Any]) -> WorkflowRow:
    meta = r[15]
    if isinstance(meta, str):  # SQLite's JSON is text; PostgreSQL's jsonb comes decoded
        meta = json.loads(meta)
    return WorkflowRow(
        id=r[0],
        name=r[1],
        metadata=meta if meta is not None else {},
        created_at=r[2],
        archived=bool(r[3]),
        expires_at=r[4],
        owner=r[5],
        status=r[6],
        counts=dict(zip(_STATUSES, r[8:15], strict=True)),
        last_seq=r[7],
    )


def _event_row(row: Any) -> EventRow:
    return EventRow(
        workflow_id=row.workflow_id,
        seq=row.seq,
        type=row.type,
        node=row.node,
        old=Status(row.old) if row.old else None,
        new=Status(row.new) if row.new else None,
        actor=row.actor,
        at=row.at,
        why=row.why,
        caused_by=row.caused_by,
        payload=row.payload,
        correlation=row.correlation,
        idempotency_key=row.idempotency_key,
    )


def reported(conn: Connection, rows: list[WorkflowRow]) -> list[WorkflowRow]:
    """The rows with the status each workflow reports: a parent whose running nodes only
    follow children left holding reports holding (`children.reported_statuses`)."""
    wanted = {r.id: (r.status, r.counts) for r in rows if r.counts.get(Status.RUNNING)}
    changed = reported_statuses(conn, wanted) if wanted else {}
    if not changed:
        return rows
    return [replace(r, status=changed[r.id]) if r.id in changed else r for r in rows]


class Reads(Database):
    def _require(self, conn: Connection, workflow_id: str) -> None:
        found = conn.execute(select(workflows.c.id).where(workflows.c.id == workflow_id)).first()
        if found is None:
            raise UnknownWorkflow(workflow_id)

    def workflow(self, workflow_id: str) -> WorkflowRow:
        with self.read() as conn:
            return self.workflow_in(conn, workflow_id)

    @staticmethod
    def workflow_in(conn: Connection, workflow_id: str) -> WorkflowRow:
        """`workflow` inside the caller's transaction."""
        row = conn.execute(select(workflows).where(workflows.c.id == workflow_id)).first()
        if row is None or row.last_seq < 0:  # < 0: a batched submit under way (SUBMITTING)
            raise UnknownWorkflow(workflow_id)
        return reported(conn, [workflow_row(row)])[0]

    def last_seq(self, workflow_id: str) -> int:
        """The seq of the workflow's last event (what every change of it moves)."""
        with self.read() as conn:
            found = conn.execute(
                select(workflows.c.last_seq).where(workflows.c.id == workflow_id)
            ).first()
        if found is None:
            raise UnknownWorkflow(workflow_id)
        return int(found.last_seq)

    def node_table(
        self, workflow_id: str
    ) -> tuple[WorkflowRow, int, list[NodeRow], dict[str, float | None]]:
        """The workflow, its last event seq, every node row in natural order and the running
        ones' live attempt start (None: queued), from one snapshot (what an in-memory copy
        starts from, to follow the event log after that seq)."""
        with self.read() as conn:
            row = conn.execute(select(workflows).where(workflows.c.id == workflow_id)).first()
            if row is None:
                raise UnknownWorkflow(workflow_id)
            rows = self.nodes_in(conn, workflow_id)
            query = (
                select(nodes.c.name, attempts.c.started_at)
                .select_from(nodes.join(attempts, _live_attempt_join()))
                .where(nodes.c.workflow_id == workflow_id, nodes.c.status == Status.RUNNING.value)
            )
            starts = {name: at for name, at in conn.execute(query)}
        return workflow_row(row), int(row.last_seq), rows, starts

    def workflows(
        self,
        archived: bool = False,
        limit: int | None = 100,
        offset: int = 0,
        name_glob: str | None = None,
        status: str | None = None,
        after: tuple[float, str] | None = None,
        *,
        metadata: bool = True,
        children: bool = True,
    ) -> list[WorkflowRow]:
        """Newest first (ties: the greater id first), with their summaries. `archived=True`
        lists the archived ones instead; `status`: only those whose derived status it is;
        `after`: (created_at, id) of the last row of the previous page (keyset pagination:
        the next page starts right after it, along the index, however deep). `metadata`:
        False leaves it out (`{}`; the list does not show it). `children`: False leaves out
        the workflows that `workflow` nodes started (sub-workflows).

        Driver SQL, rows read by position: a page of 1,000 summaries costs the database's
        time, not SQLAlchemy's per-row processing."""
        conds = ["archived = ?", "last_seq >= 0"]  # last_seq < 0: a batched submit under way
        params: list[Any] = [archived]
        if status is not None:
            conds.append("status = ?")
            params.append(status)
        if not children:
            conds.append(
                "NOT EXISTS (SELECT 1 FROM workflow_links l WHERE l.child_id = workflows.id)"
            )
        if name_glob is not None:
            conds.append("name LIKE ? ESCAPE '\\'")
            params.append(glob_to_like(name_glob))
        if after is not None:
            conds.append("(created_at < ? OR (created_at = ? AND id < ?))")
            params += [after[0], after[0], after[1]]
        meta = "metadata" if metadata else "NULL"
        sql = (
            f"SELECT {', '.join(_ROW_COLUMNS)}, {meta} FROM workflows WHERE {' AND '.join(conds)}"
            " ORDER BY created_at DESC, id DESC"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        if offset:
            sql += " OFFSET ?" if limit is not None else " LIMIT -1 OFFSET ?"
            params.append(offset)
        with self.read() as conn:
            db = driver(conn)
            rows = db.rows(sql, params)
            return reported(conn, [_summary_row(r) for r in rows])

    def node(self, workflow_id: str, name: str) -> Node:
        with self.read() as conn:
            found = load_nodes(conn, workflow_id, [name])
            if not found:
                self._require(conn, workflow_id)
                raise KeyError(name)
        return found[name]

    def kinds_of(self, workflow_id: str, names: Sequence[str]) -> dict[str, str]:
        """The kind of each named node (the scheduler reads them when it claims, keeps none)."""
        found: dict[str, str] = {}
        with self.read() as conn:
            for i in range(0, len(names), CHUNK):
                query = select(nodes.c.name, nodes.c.kind).where(
                    nodes.c.workflow_id == workflow_id, nodes.c.name.in_(list(names[i : i + CHUNK]))
                )
                found.update((str(n), str(k)) for n, k in conn.execute(query))
        return found

    def nodes(
        self,
        workflow_id: str,
        statuses: Iterable[Status | str] | None = None,
        kinds: Iterable[str] | None = None,
        glob: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        after: str | None = None,
    ) -> list[NodeRow]:
        """Node rows in natural order of names, filtered by status, kind and name glob."""
        with self.read() as conn:
            return self.nodes_in(conn, workflow_id, statuses, kinds, glob, limit, offset, after)

    def nodes_in(
        self,
        conn: Connection,
        workflow_id: str,
        statuses: Iterable[Status | str] | None = None,
        kinds: Iterable[str] | None = None,
        glob: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        after: str | None = None,
    ) -> list[NodeRow]:
        """`nodes` inside the caller's transaction (with other reads of the same moment).

        Natural order (render.2 before render.10) is not the database's: rows are ordered
        by each name's cached rank. A page of an unfiltered list reads only its own rows.
        `after`: only names after it in that order (a keyset page: stable while statuses
        change, unlike an offset).
        """
        order = self.name_order(conn, workflow_id)
        first = 0 if after is None else order.after(after)
        conds: list[ColumnElement[bool]] = [nodes.c.workflow_id == workflow_id]
        if statuses is not None:
            conds.append(nodes.c.status.in_([Status(s).value for s in statuses]))
        if kinds is not None:
            conds.append(nodes.c.kind.in_(list(kinds)))
        if glob is not None:
            conds.append(nodes.c.name.like(glob_to_like(glob), escape="\\"))
        columns = (nodes.c.name, nodes.c.kind, nodes.c.status, nodes.c.group, nodes.c.frames)
        query = select(*columns).where(*conds)
        end = None if limit is None else offset + limit
        found: list[Any] = []
        if len(conds) == 1 and (offset or first or end is not None):  # names known
            page = order.names[first + offset : None if end is None else first + end]
            for i in range(0, len(page), CHUNK):
                found.extend(conn.execute(among(conn, query, nodes.c.name, page[i : i + CHUNK])))
            found.sort(key=lambda r: order.rank.get(r.name, -1))
        else:
            found = sorted(conn.execute(query), key=lambda r: order.rank.get(r.name, -1))
            if first:
                found = [r for r in found if order.rank.get(r.name, -1) >= first]
            found = found[offset:end]
        return [NodeRow(r.name, r.kind, STATUS_OF[r.status], r.group, r.frames) for r in found]

    @staticmethod
    def last_seq_in(conn: Connection, workflow_id: str) -> int:
        """The workflow's last event sequence number as this transaction sees it."""
        row = conn.execute(
            select(workflows.c.last_seq).where(workflows.c.id == workflow_id)
        ).first()
        if row is None:
            raise UnknownWorkflow(workflow_id)
        return int(row.last_seq)

    def edges(self, workflow_id: str) -> list[tuple[str, str]]:
        query = (
            select(edges.c.upstream, edges.c.downstream)
            .where(edges.c.workflow_id == workflow_id)
            .order_by(edges.c.upstream, edges.c.downstream)
        )
        with self.read() as conn:
            return [(u, d) for u, d in conn.execute(query)]

    def snapshots(self, workflow_id: str, name: str) -> list[Snapshot]:
        """A node's snapshots, oldest first, each with its attempts."""
        with self.read() as conn:
            return load_snapshots(conn, workflow_id, name)

    def attempts(self, workflow_id: str, name: str) -> list[StoredAttempt]:
        """Every attempt of a node, including those kept in snapshots, oldest first."""
        query = (
            select(attempts)
            .where(attempts.c.workflow_id == workflow_id, attempts.c.node == name)
            .order_by(attempts.c.id)
        )
        with self.read() as conn:
            return [
                StoredAttempt(
                    r.node, attempt_from_row(r), r.snapshot, r.lease_owner, r.lease_expires
                )
                for r in conn.execute(query)
            ]

    def events(self, workflow_id: str, after_seq: int = 0, limit: int = 1000) -> list[EventRow]:
        query = (
            select(events)
            .where(events.c.workflow_id == workflow_id, events.c.seq > after_seq)
            .order_by(events.c.seq)
            .limit(limit)
        )
        with self.read() as conn:
            return [_event_row(r) for r in conn.execute(query)]

    def counts(self, workflow_id: str) -> dict[Status, int]:
        """Nodes per status (statuses without nodes left out), from the workflow's summary."""
        return {s: n for s, n in self.workflow(workflow_id).counts.items() if n}

    @staticmethod
    def edited_in(conn: Connection, workflow_id: str) -> dict[str, tuple[bool, int]]:
        """Nodes with a non-empty patch or a snapshot: name -> (patched, snapshot count).
        Few in a big workflow, so a graph carries them sparsely."""
        text = cast(nodes.c.patch, Text)
        patched = text != "{}"
        query = select(nodes.c.name, nodes.c.snapshot_count, text).where(
            nodes.c.workflow_id == workflow_id, (nodes.c.snapshot_count > 0) | patched
        )
        return {
            name: (str(patch).strip() not in ("{}", ""), int(count))
            for name, count, patch in conn.execute(query)
        }

    def node_count(self, conn: Connection, workflow_id: str) -> int:
        """How many nodes the workflow has (fixed at submit)."""
        return len(self.name_order(conn, workflow_id).names)

    def phases(self, workflow_id: str, counts: dict[Status, int] | None = None) -> dict[str, int]:
        """How many running nodes wait (queued: their attempt not started yet, for a slot,
        a worker or a retry delay) and how many execute. One query over the running nodes'
        live attempts; `counts` (already read) spares the count query."""
        if counts is None:
            counts = self.counts(workflow_id)
        running = counts.get(Status.RUNNING, 0)
        if not running:
            return {"queued": 0, "executing": 0}
        query = (
            select(func.count())
            .select_from(nodes.join(attempts, _live_attempt_join()))
            .where(
                nodes.c.workflow_id == workflow_id,
                nodes.c.status == Status.RUNNING.value,
                attempts.c.started_at.is_not(None),
            )
        )
        with self.read() as conn:
            executing = int(conn.execute(query).scalar_one())
        return {"queued": running - executing, "executing": executing}

    def starts(
        self, workflow_id: str, names: Sequence[str] | None = None, limit: int | None = None
    ) -> dict[str, float | None]:
        """Running nodes (of `names`, or all) -> their live attempt's start time (None: queued).
        Without `names`, at most `limit` of them: the executing ones first, by start."""
        query = select(nodes.c.name, attempts.c.started_at).select_from(
            nodes.outerjoin(attempts, _live_attempt_join())
        )
        query = query.where(
            nodes.c.workflow_id == workflow_id, nodes.c.status == Status.RUNNING.value
        )
        found: dict[str, float | None] = {}
        with self.read() as conn:
            if names is None and limit is not None:
                started = attempts.c.started_at
                query = query.order_by(started.is_(None), started, nodes.c.name).limit(limit)
                found.update((name, at) for name, at in conn.execute(query))
            elif names is None or len(names) > CHUNK:
                wanted = None if names is None else set(names)
                for name, at in conn.execute(query):
                    if wanted is None or name in wanted:
                        found[name] = at
            elif names:
                rows = conn.execute(among(conn, query, nodes.c.name, names))
                found.update((name, at) for name, at in rows)
        return found

    def status(self, workflow_id: str) -> WorkflowStatus:
        """The derived status, kept on the workflow's row by every transaction."""
        return WorkflowStatus(self.workflow(workflow_id).status)

    def state(self, workflow_id: str) -> tuple[dict[Status, int], WorkflowStatus, int]:
        """Counts per status, derived status and the last event seq, all of one moment (the
        summary kept on the row): a client that loads them and then streams the events after
        that seq misses none and replays none."""
        row = self.workflow(workflow_id)
        counts = {s: n for s, n in row.counts.items() if n}
        return counts, WorkflowStatus(row.status), row.last_seq

    def runnable_nodes(self, workflow_id: str, limit: int | None = None) -> list[str]:
        """Open nodes whose upstream nodes are all ready (recovery: run these), sorted."""
        with self.read() as conn:
            return find_runnable(conn, workflow_id, self.adjacency(conn, workflow_id), limit)

    def graph(self, workflow_id: str) -> Graph:
        """The whole workflow in memory: nodes with current attempts, edges, snapshots, events."""
        with self.read() as conn:
            self._require(conn, workflow_id)
            return self._graph(conn, workflow_id)

    def _graph(self, conn: Connection, workflow_id: str) -> Graph:
        runs: defaultdict[str, list[Attempt]] = defaultdict(list)
        kept: defaultdict[tuple[str, int], list[Attempt]] = defaultdict(list)
        att_query = (
            select(attempts).where(attempts.c.workflow_id == workflow_id).order_by(attempts.c.id)
        )
        for row in conn.execute(att_query):
            if row.snapshot is None:
                runs[row.node].append(attempt_from_row(row))
            else:
                kept[(row.node, row.snapshot)].append(attempt_from_row(row))
        graph = Graph()
        node_query = select(*NODE_COLUMNS).where(nodes.c.workflow_id == workflow_id)
        for row in conn.execute(node_query.order_by(nodes.c.name)):
            graph.add_node(row.name, Status(row.submitted), row.base)
            graph.nodes[row.name] = node_from_row(row, runs.get(row.name, ()))
        graph.counts = Counter(n.status for n in graph)
        edge_query = select(edges.c.upstream, edges.c.downstream).where(
            edges.c.workflow_id == workflow_id
        )
        for up, down in conn.execute(edge_query.order_by(edges.c.upstream, edges.c.downstream)):
            graph.add_edge(up, down)
        snap_query = select(snapshots).where(snapshots.c.workflow_id == workflow_id)
        for row in conn.execute(snap_query.order_by(snapshots.c.node, snapshots.c.number)):
            snap = snapshot_from_row(row, kept.get((row.node, row.number), ()))
            graph.snapshots[row.node].append(snap)
        ev_query = select(events).where(events.c.workflow_id == workflow_id)
        for row in conn.execute(ev_query.order_by(events.c.seq)):
            ev = _event_row(row)
            graph.events.append(
                Event(
                    ev.type,
                    ev.node,
                    ev.old,
                    ev.new,
                    ev.actor,
                    ev.at,
                    ev.why,
                    ev.caused_by,
                    ev.payload,
                )
            )
        return graph
