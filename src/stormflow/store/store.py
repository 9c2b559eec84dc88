"""`Store`: the durable record. `transact` is the one write path for lifecycle changes."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from stormflow.core import START, Event, GraphView, Outcome, Status

from .bulk import dumps, insert_rows
from .drafts import Drafts
from .leases import Leases
from .persist import append_events, persist
from .reads import Reads
from .records import Applied, Lease, PlannedNodeLike, summarize
from .schema import edges as edge_table
from .schema import nodes as node_table
from .schema import requests, workflows
from .view import Adjacency, StoreView

_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: ids are read aloud


def new_workflow_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def check_dag(names: set[str], pairs: list[tuple[str, str]]) -> None:
    """Refuse edges to unknown nodes, self-edges and cycles (Kahn's algorithm)."""
    indegree = dict.fromkeys(names, 0)
    down: dict[str, list[str]] = {n: [] for n in names}
    for up, dn in pairs:
        for n in (up, dn):
            if n not in names:
                raise ValueError(f"edge {up} -> {dn}: unknown node {n!r}")
        if up == dn:
            raise ValueError(f"edge {up} -> {dn}: a node cannot depend on itself")
        down[up].append(dn)
        indegree[dn] += 1
    ready = [n for n, d in indegree.items() if d == 0]
    seen = 0
    while ready:
        n = ready.pop()
        seen += 1
        for child in down[n]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if seen != len(names):
        raise ValueError("the edges form a cycle")


_NODE_COLUMNS = (
    "workflow_id",
    "name",
    "kind",
    "status",
    "submitted",
    "base",
    "patch",
    "snapshot_count",
    "attempt_seq",
    "group",
    "frames",
)


class Store(Reads, Leases, Drafts):
    """Workflows, nodes, edges, snapshots, attempts and the event log, in SQLite or PostgreSQL.

    `Store(url)` opens the database and migrates it to the newest schema.
    """

    @classmethod
    def default(cls, data_dir: Path) -> Store:
        """The embedded store: `<data_dir>/storm.db` (SQLite, WAL)."""
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{data_dir / 'storm.db'}")

    def submit(
        self,
        nodes: Iterable[PlannedNodeLike],
        edges: Iterable[tuple[str, str]],
        *,
        name: str,
        metadata: dict[str, Any],
        actor: str,
        at: float,
        idempotency_key: str | None = None,
        owner: str | None = None,
        expires_at: float | None = None,
    ) -> str:
        """Store a planned workflow in one transaction; returns its id.

        Nodes and edges go in with COPY on PostgreSQL, chunked executemany on SQLite.
        """
        planned = list(nodes)
        pairs = list(dict.fromkeys((u, d) for u, d in edges))
        names = {p.name for p in planned}
        if len(names) != len(planned):
            raise ValueError("duplicate node names")
        for p in planned:
            if Status(p.status) not in START:
                raise ValueError(f"node {p.name!r}: submitted status must be open or holding")
        check_dag(names, pairs)
        with self.write() as conn:
            if idempotency_key is not None:
                seen = conn.execute(
                    select(requests.c.workflow_id).where(
                        requests.c.idempotency_key == idempotency_key
                    )
                ).first()
                if seen is not None:
                    return str(seen.workflow_id)
            workflow_id = new_workflow_id()
            while conn.execute(select(workflows.c.id).where(workflows.c.id == workflow_id)).first():
                workflow_id = new_workflow_id()
            conn.execute(
                workflows.insert().values(
                    id=workflow_id,
                    name=name,
                    metadata=metadata,
                    created_at=at,
                    archived=False,
                    expires_at=expires_at,
                    owner=owner if owner is not None else actor,
                    last_seq=0,
                )
            )
            insert_rows(
                conn,
                node_table,
                _NODE_COLUMNS,
                (
                    (
                        workflow_id,
                        p.name,
                        p.kind,
                        Status(p.status).value,
                        Status(p.status).value,
                        dumps(dict(p.config)),
                        "{}",
                        0,
                        0,
                        p.group,
                        p.frames,
                    )
                    for p in planned
                ),
            )
            insert_rows(
                conn,
                edge_table,
                ("workflow_id", "upstream", "downstream"),
                ((workflow_id, u, d) for u, d in pairs),
            )
            payload = {"name": name, "nodes": len(planned), "edges": len(pairs)}
            first, last = append_events(
                conn,
                workflow_id,
                [Event("submit", None, actor=actor, at=at, payload=payload)],
                last_seq=0,
                idempotency_key=idempotency_key,
            )
            if idempotency_key is not None:
                conn.execute(
                    requests.insert().values(
                        idempotency_key=idempotency_key,
                        workflow_id=workflow_id,
                        response={"workflow_id": workflow_id},
                        at=at,
                        first_seq=first,
                        last_seq=last,
                    )
                )
            # before commit: the rows and their statistics become visible together
            self.refresh_statistics({"nodes": len(planned), "edges": len(pairs)}, conn)
        return workflow_id

    def transact(
        self,
        workflow_id: str,
        fn: Callable[[GraphView], Outcome],
        *,
        idempotency_key: str | None = None,
        correlation: str | None = None,
        response: Callable[[Outcome], dict[str, Any]] | None = None,
        lease: Lease | None = None,
        prefetch: Callable[[Adjacency], Iterable[str]] | None = None,
    ) -> Applied:
        """Run `fn` on a view of the workflow and persist its outcome, in one locked transaction.

        If `fn` raises, nothing is written. A repeated idempotency key returns the
        first answer (replayed=True) and changes nothing. `lease`: attempts that `fn`
        started (it fills `lease.tokens`) are leased to `lease.owner` in the same
        transaction — the scheduler's claim without a transaction of its own.
        `prefetch`: names of nodes `fn` will read whole, given the workflow's edges (once a
        transaction loaded them): read with the lock, in its round trip on PostgreSQL.
        """
        known = self.cached_adjacency(workflow_id) if prefetch is not None else None
        names = [n for n in prefetch(known) if n in known.names] if prefetch and known else []
        with self.locked(workflow_id, list(dict.fromkeys(names))) as (conn, last_seq, found):
            if idempotency_key is not None:
                seen = conn.execute(
                    select(requests).where(requests.c.idempotency_key == idempotency_key)
                ).first()
                if seen is not None:
                    return Applied(None, seen.first_seq, seen.last_seq, seen.response, True)
            view = StoreView(conn, workflow_id, self.adjacency(conn, workflow_id))
            view.preload(found)
            outcome = fn(view)
            first, last = persist(
                conn,
                view,
                outcome,
                last_seq=last_seq,
                correlation=correlation,
                idempotency_key=idempotency_key,
                lease=lease,
            )
            answer = response(outcome) if response is not None else summarize(outcome)
            if idempotency_key is not None:
                conn.execute(
                    requests.insert().values(
                        idempotency_key=idempotency_key,
                        workflow_id=workflow_id,
                        response=answer,
                        at=outcome.at,
                        first_seq=first,
                        last_seq=last,
                    )
                )
        return Applied(outcome, first, last, answer)

    def preview(self, workflow_id: str, fn: Callable[[GraphView], Outcome]) -> tuple[Outcome, int]:
        """Run `fn` as `transact` would and store nothing: a dry run.

        It reads one consistent moment of the workflow (a read transaction, no lock: it
        never waits for a writer) and returns the outcome with the last event seq that
        moment reflects. Raises what `fn` raises, and `UnknownWorkflow`.
        """
        with self.read() as conn:
            seq = self.last_seq_in(conn, workflow_id)
            view = StoreView(conn, workflow_id, self.adjacency(conn, workflow_id))
            return fn(view), seq
