"""`Store`: the durable record. `transact` is the one write path for lifecycle changes."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, select, update

from stormflow.core import START, Event, GraphView, Outcome, Status, derive_status
from stormflow.paths import private_dir

from .archive import Archive
from .bulk import batched as batched_rows
from .bulk import dumps, insert_rows
from .children import Children
from .clients import ClientVersions
from .drafts import Drafts
from .leases import Leases
from .persist import append_events, persist
from .reads import Reads
from .records import Applied, Lease, PlannedNodeLike, summarize
from .schema import edges as edge_table
from .schema import nodes as node_table
from .schema import requests, workflows
from .summary import COUNT_COLUMNS
from .templates import Templates
from .uploads import Uploads
from .view import Adjacency, StoreView
from .waits import Waits

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


#: Rows per transaction of a big submit (nodes, then edges): each holds the write lock for
#: tens of milliseconds at most.
SUBMIT_BATCH = 5000

#: `last_seq` of a workflow whose batched submit is under way: invisible to every read,
#: to `transact` and to the scheduler (it is also archived) until the last batch commits.
SUBMITTING = -1

_EDGE_COLUMNS = ("workflow_id", "upstream", "downstream")

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


def _first_summary(planned: list[PlannedNodeLike], pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The summary columns of a workflow just submitted. Every node is open or holding, so no
    node is ready and only an open root (no upstream node) may run."""
    counts = Counter(Status(p.status) for p in planned)
    has_up = {d for _, d in pairs}
    runnable = sum(1 for p in planned if Status(p.status) is Status.OPEN and p.name not in has_up)
    columns = dict(zip(COUNT_COLUMNS, (counts.get(s, 0) for s in Status), strict=True))
    return {"status": derive_status(counts, runnable).value, **columns}


def _owner(owner: str | None, metadata: dict[str, Any]) -> str | None:
    if owner is None and isinstance(metadata.get("owner"), str) and metadata["owner"].strip():
        return str(metadata["owner"]).strip()
    return owner


def _checked(
    nodes: Iterable[PlannedNodeLike], edges: Iterable[tuple[str, str]]
) -> tuple[list[PlannedNodeLike], list[tuple[str, str]]]:
    """The planned nodes and distinct edges, refused (ValueError) unless a sound DAG."""
    planned = list(nodes)
    pairs = list(dict.fromkeys((u, d) for u, d in edges))
    names = {p.name for p in planned}
    if len(names) != len(planned):
        raise ValueError("duplicate node names")
    for p in planned:
        if Status(p.status) not in START:
            raise ValueError(f"node {p.name!r}: submitted status must be open or holding")
    check_dag(names, pairs)
    return planned, pairs


def _node_rows(workflow_id: str, planned: list[PlannedNodeLike]) -> Iterator[tuple[Any, ...]]:
    for p in planned:
        status = Status(p.status).value
        config = dumps(dict(p.config))
        yield (workflow_id, p.name, p.kind, status, status, config, "{}", 0, 0, p.group, p.frames)


@dataclass(frozen=True, slots=True)
class NewWorkflow:
    """One small workflow of `Store.submit_small`: what `Store.submit` takes."""

    nodes: list[PlannedNodeLike]
    edges: list[tuple[str, str]]
    name: str
    metadata: dict[str, Any]
    actor: str
    at: float
    idempotency_key: str | None = None
    expires_at: float | None = None
    within: Callable[[Connection, str], None] | None = None

    @property
    def rows(self) -> int:
        return len(self.nodes) + len(self.edges)


class Store(Reads, Leases, Drafts, Templates, Archive, ClientVersions, Children, Uploads, Waits):
    """Workflows, nodes, edges, snapshots, attempts and the event log, in SQLite or PostgreSQL.

    `Store(url)` opens the database and migrates it to the newest schema.
    """

    @classmethod
    def default(cls, data_dir: Path) -> Store:
        """The embedded store: `<data_dir>/storm.db` (SQLite, WAL)."""
        data_dir = private_dir(data_dir)
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
        within: Callable[[Connection, str], None] | None = None,
    ) -> str:
        """Store a planned workflow; returns its id. In one transaction up to SUBMIT_BATCH
        rows; a bigger one in transactions of SUBMIT_BATCH rows while it is invisible, then
        published whole (or discarded on failure).

        Nodes and edges go in with COPY on PostgreSQL, chunked executemany on SQLite.
        The owner is `owner`, else the document's `metadata.owner` (a DCC submitting for an
        artist names them there), else the submitter.
        `within(conn, workflow_id)` runs in the transaction that makes the workflow visible
        (a sub-workflow's link to its parent attempt); if it raises, nothing is kept.
        """
        owner = _owner(owner, metadata)
        planned, pairs = _checked(nodes, edges)
        # A big workflow goes in as bounded transactions, while it is invisible (see
        # SUBMITTING), so the store's write lock is never held for long: every other request
        # and the scheduler get their turn between two batches.
        batched = len(planned) + len(pairs) > SUBMIT_BATCH

        def node_rows(workflow_id: str) -> Iterator[tuple[Any, ...]]:
            return _node_rows(workflow_id, planned)

        def edge_rows(workflow_id: str) -> Iterator[tuple[Any, ...]]:
            return ((workflow_id, u, d) for u, d in pairs)

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
                    archived=batched,
                    expires_at=expires_at,
                    owner=owner if owner is not None else actor,
                    last_seq=SUBMITTING if batched else 0,
                    **_first_summary(planned, pairs),
                )
            )
            if not batched:  # small: all of it in this one transaction
                insert_rows(conn, node_table, _NODE_COLUMNS, node_rows(workflow_id))
                insert_rows(conn, edge_table, _EDGE_COLUMNS, edge_rows(workflow_id))
                self._submitted(
                    conn, workflow_id, name, actor, at, len(planned), len(pairs), idempotency_key
                )
                if within is not None:
                    within(conn, workflow_id)
                # before commit: the rows and their statistics become visible together
                self.refresh_statistics({"nodes": len(planned), "edges": len(pairs)}, conn)
        if not batched:
            return workflow_id
        try:
            for part in batched_rows(node_rows(workflow_id), SUBMIT_BATCH):
                with self.write() as conn:
                    insert_rows(conn, node_table, _NODE_COLUMNS, part)
                time.sleep(0)  # let a waiting thread of this process take the lock
            for part in batched_rows(edge_rows(workflow_id), SUBMIT_BATCH):
                with self.write() as conn:
                    insert_rows(conn, edge_table, _EDGE_COLUMNS, part)
                time.sleep(0)
            # planner statistics before anyone reads it: published unanalyzed, its first
            # reads on PostgreSQL were planned as over empty tables (seconds each)
            self.refresh_statistics({"nodes": len(planned), "edges": len(pairs)})
            self._publish(
                workflow_id, name, actor, at, len(planned), len(pairs), idempotency_key, within
            )
        except BaseException:
            self.discard_unfinished(workflow_id)
            raise
        return workflow_id

    def submit_small(self, items: Sequence[NewWorkflow]) -> list[str]:
        """Store several small workflows in one transaction (together at most SUBMIT_BATCH
        rows: the caller makes the groups); returns their ids, in order. An idempotency key
        already answered gives the workflow stored then. Each one's `within(conn, id)` runs
        in the transaction: if any raises, nothing of any of them is kept (the caller may
        then submit them one by one)."""
        checked = [(item, *_checked(item.nodes, item.edges)) for item in items]
        total = sum(len(planned) + len(pairs) for _, planned, pairs in checked)
        if total > SUBMIT_BATCH:
            raise ValueError(f"{total} rows: more than one transaction's {SUBMIT_BATCH}")
        ids: list[str] = []
        fresh: list[tuple[str, NewWorkflow, int, int]] = []
        with self.write() as conn:
            rows: list[dict[str, Any]] = []
            node_rows: list[tuple[Any, ...]] = []
            edge_rows: list[tuple[Any, ...]] = []
            for item, planned, pairs in checked:
                if item.idempotency_key is not None:
                    seen = conn.execute(
                        select(requests.c.workflow_id).where(
                            requests.c.idempotency_key == item.idempotency_key
                        )
                    ).first()
                    if seen is not None:
                        ids.append(str(seen.workflow_id))
                        continue
                workflow_id = new_workflow_id()
                while (
                    workflow_id in ids
                    or conn.execute(
                        select(workflows.c.id).where(workflows.c.id == workflow_id)
                    ).first()
                ):
                    workflow_id = new_workflow_id()
                owner = _owner(None, item.metadata)
                rows.append(
                    {
                        "id": workflow_id,
                        "name": item.name,
                        "metadata": item.metadata,
                        "created_at": item.at,
                        "archived": False,
                        "expires_at": item.expires_at,
                        "owner": owner if owner is not None else item.actor,
                        "last_seq": 0,
                        **_first_summary(planned, pairs),
                    }
                )
                node_rows.extend(_node_rows(workflow_id, planned))
                edge_rows.extend((workflow_id, u, d) for u, d in pairs)
                ids.append(workflow_id)
                fresh.append((workflow_id, item, len(planned), len(pairs)))
            if not fresh:
                return ids
            conn.execute(workflows.insert(), rows)
            insert_rows(conn, node_table, _NODE_COLUMNS, node_rows)
            insert_rows(conn, edge_table, _EDGE_COLUMNS, edge_rows)
            for workflow_id, item, nodes, edges in fresh:
                self._submitted(
                    conn,
                    workflow_id,
                    item.name,
                    item.actor,
                    item.at,
                    nodes,
                    edges,
                    item.idempotency_key,
                )
                if item.within is not None:
                    item.within(conn, workflow_id)
            self.refresh_statistics({"nodes": len(node_rows), "edges": len(edge_rows)}, conn)
        return ids

    def _publish(
        self,
        workflow_id: str,
        name: str,
        actor: str,
        at: float,
        nodes: int,
        edges: int,
        idempotency_key: str | None,
        within: Callable[[Connection, str], None] | None = None,
    ) -> None:
        """The last transaction of a batched submit: visible, and runnable, from its commit."""
        with self.write() as conn:
            conn.execute(
                update(workflows)
                .where(workflows.c.id == workflow_id)
                .values(archived=False, last_seq=0)
            )
            self._submitted(conn, workflow_id, name, actor, at, nodes, edges, idempotency_key)
            if within is not None:
                within(conn, workflow_id)

    @staticmethod
    def _submitted(
        conn: Connection,
        workflow_id: str,
        name: str,
        actor: str,
        at: float,
        nodes: int,
        edges: int,
        idempotency_key: str | None,
    ) -> None:
        """The submit event, and the answer kept for a repeated idempotency key."""
        payload = {"name": name, "nodes": nodes, "edges": edges}
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

    def discard_unfinished(self, workflow_id: str | None = None, older_than: float = 0.0) -> int:
        """Delete a workflow whose batched submit did not finish (or every one older than
        `older_than` seconds: a submitter killed half way), in bounded transactions too.
        Returns how many workflows were deleted."""
        unfinished = select(workflows.c.id).where(workflows.c.last_seq == SUBMITTING)
        if workflow_id is not None:
            unfinished = unfinished.where(workflows.c.id == workflow_id)
        if older_than > 0:
            unfinished = unfinished.where(workflows.c.created_at < time.time() - older_than)
        with self.read() as conn:
            ids = list(conn.execute(unfinished).scalars())
        for wid in ids:
            for table in (edge_table, node_table):
                while True:
                    with self.write() as conn:
                        key = table.c.downstream if table is edge_table else table.c.name
                        some = select(key).where(table.c.workflow_id == wid).limit(SUBMIT_BATCH)
                        done = conn.execute(
                            delete(table).where(table.c.workflow_id == wid, key.in_(some))
                        ).rowcount
                    if not done:
                        break
            with self.write() as conn:
                conn.execute(
                    delete(workflows).where(
                        workflows.c.id == wid, workflows.c.last_seq == SUBMITTING
                    )
                )
        return len(ids)

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
        with self.locked(workflow_id, list(dict.fromkeys(names))) as (conn, head, found):
            if idempotency_key is not None:
                seen = conn.execute(
                    select(requests).where(requests.c.idempotency_key == idempotency_key)
                ).first()
                if seen is not None:
                    return Applied(None, seen.first_seq, seen.last_seq, seen.response, True)
            view = StoreView(conn, workflow_id, self.adjacency(conn, workflow_id))
            view.head = head
            view.preload(found)
            outcome = fn(view)
            first, last = persist(
                conn,
                view,
                outcome,
                last_seq=head.last_seq,
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
