"""Reads: workflows, nodes, edges, history, the event log, counts and derived status."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, literal, select, update
from sqlalchemy.sql.elements import ColumnElement

from stormflow.core import (
    Attempt,
    Event,
    Graph,
    Node,
    Snapshot,
    Status,
    WorkflowStatus,
    derive_status,
)

from .db import Database
from .persist import append_events
from .queries import (
    READY_VALUES,
    glob_to_like,
    has_runnable,
    open_roots,
    ready_children,
    runnable_among,
    runnable_query,
)
from .records import EventRow, NodeRow, StoredAttempt, UnknownWorkflow, WorkflowRow
from .schema import attempts, edges, events, nodes, snapshots, workflows
from .view import (
    CHUNK,
    NODE_COLUMNS,
    attempt_from_row,
    load_nodes,
    load_snapshots,
    node_from_row,
    snapshot_from_row,
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


class Reads(Database):
    def _require(self, conn: Connection, workflow_id: str) -> None:
        found = conn.execute(select(workflows.c.id).where(workflows.c.id == workflow_id)).first()
        if found is None:
            raise UnknownWorkflow(workflow_id)

    def workflow(self, workflow_id: str) -> WorkflowRow:
        with self.read() as conn:
            row = conn.execute(select(workflows).where(workflows.c.id == workflow_id)).first()
        if row is None:
            raise UnknownWorkflow(workflow_id)
        return workflow_row(row)

    def last_seq(self, workflow_id: str) -> int:
        """The seq of the workflow's last event (what every change of it moves)."""
        with self.read() as conn:
            found = conn.execute(
                select(workflows.c.last_seq).where(workflows.c.id == workflow_id)
            ).first()
        if found is None:
            raise UnknownWorkflow(workflow_id)
        return int(found.last_seq)

    def node_table(self, workflow_id: str) -> tuple[WorkflowRow, int, list[NodeRow]]:
        """The workflow, its last event seq and every node row by name, from one snapshot
        (what an in-memory copy starts from, to follow the event log after that seq)."""
        with self.read() as conn:
            row = conn.execute(select(workflows).where(workflows.c.id == workflow_id)).first()
            if row is None:
                raise UnknownWorkflow(workflow_id)
            query = (
                select(nodes.c.name, nodes.c.kind, nodes.c.status, nodes.c.group, nodes.c.frames)
                .where(nodes.c.workflow_id == workflow_id)
                .order_by(nodes.c.name)
            )
            rows = [
                NodeRow(r.name, r.kind, Status(r.status), r.group, r.frames)
                for r in conn.execute(query)
            ]
        return workflow_row(row), int(row.last_seq), rows

    def workflows(
        self,
        archived: bool = False,
        limit: int | None = 100,
        offset: int = 0,
        name_glob: str | None = None,
    ) -> list[WorkflowRow]:
        """Newest first. `archived=True` lists the archived ones instead."""
        query = select(workflows).where(workflows.c.archived == archived)
        if name_glob is not None:
            query = query.where(workflows.c.name.like(glob_to_like(name_glob), escape="\\"))
        query = query.order_by(workflows.c.created_at.desc(), workflows.c.id)
        query = query.limit(limit).offset(offset)
        with self.read() as conn:
            return [workflow_row(r) for r in conn.execute(query)]

    def archive(self, workflow_id: str, *, actor: str = "user", at: float = 0.0) -> None:
        with self.on_workflow(workflow_id) as (conn, last_seq):
            conn.execute(
                update(workflows).where(workflows.c.id == workflow_id).values(archived=True)
            )
            append_events(
                conn, workflow_id, [Event("archive", None, actor=actor, at=at)], last_seq=last_seq
            )

    def node(self, workflow_id: str, name: str) -> Node:
        with self.read() as conn:
            found = load_nodes(conn, workflow_id, [name])
            if not found:
                self._require(conn, workflow_id)
                raise KeyError(name)
        return found[name]

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
        """Node rows by name, filtered by status, kind and name glob; `after`: names after it
        (a keyset page: stable while statuses change, unlike an offset)."""
        conds: list[ColumnElement[bool]] = [nodes.c.workflow_id == workflow_id]
        if after is not None:
            conds.append(nodes.c.name > after)
        if statuses is not None:
            conds.append(nodes.c.status.in_([Status(s).value for s in statuses]))
        if kinds is not None:
            conds.append(nodes.c.kind.in_(list(kinds)))
        if glob is not None:
            conds.append(nodes.c.name.like(glob_to_like(glob), escape="\\"))
        query = (
            select(nodes.c.name, nodes.c.kind, nodes.c.status, nodes.c.group, nodes.c.frames)
            .where(*conds)
            .order_by(nodes.c.name)
            .limit(limit)
            .offset(offset)
        )
        with self.read() as conn:
            return [
                NodeRow(r.name, r.kind, Status(r.status), r.group, r.frames)
                for r in conn.execute(query)
            ]

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
        with self.read() as conn:
            return self._counts(conn, workflow_id)

    def _counts(self, conn: Connection, workflow_id: str) -> dict[Status, int]:
        query = (
            select(nodes.c.status, func.count())
            .where(nodes.c.workflow_id == workflow_id)
            .group_by(nodes.c.status)
        )
        return {Status(s): n for s, n in conn.execute(query)}

    def status(self, workflow_id: str) -> WorkflowStatus:
        """The derived status. Whether an open node could run is only asked when nothing
        runs, and answered by the first one found (derive_status needs no count)."""
        with self.read() as conn:
            self._require(conn, workflow_id)
            counts = self._counts(conn, workflow_id)
            runnable = 0
            if not counts.get(Status.RUNNING) and counts.get(Status.OPEN):
                roots = self.adjacency(conn, workflow_id).roots
                runnable = int(has_runnable(conn, workflow_id, roots))
        return derive_status(counts, runnable)

    def runnable_nodes(self, workflow_id: str, limit: int | None = None) -> list[str]:
        """Open nodes whose upstream nodes are all ready (recovery: run these).

        Searched from whichever side is smaller: the open nodes (each checked against
        its upstream nodes; a running render has few), or the ready nodes (their open
        children) plus the open roots (a workflow just submitted or retried from the top).
        """
        with self.read() as conn:
            opened = self._count(conn, workflow_id, [Status.OPEN.value], None)
            if not opened:
                return []
            small = opened <= CHUNK
            if small or self._count(conn, workflow_id, READY_VALUES, opened) >= opened:
                query = runnable_query(workflow_id).order_by(nodes.c.name).limit(limit)
                return [str(n) for n in conn.execute(query).scalars()]
            roots = self.adjacency(conn, workflow_id).roots
            children = [str(n) for n in conn.execute(ready_children(workflow_id)).scalars()]
            found = open_roots(conn, workflow_id, roots)
            found += runnable_among(conn, workflow_id, children)
        return sorted(found)[:limit]

    @staticmethod
    def _count(conn: Connection, workflow_id: str, statuses: list[str], upto: int | None) -> int:
        """Nodes in these statuses, counted up to `upto` (an index range, stopped early)."""
        rows = (
            select(literal(1))
            .where(nodes.c.workflow_id == workflow_id, nodes.c.status.in_(statuses))
            .limit(upto)
            .subquery()
        )
        return int(conn.execute(select(func.count()).select_from(rows)).scalar_one())

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
