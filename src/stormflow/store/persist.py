"""Write an `Outcome` exactly as `core.Graph.apply` would, with bulk statements.

Node rows are rewritten (their `patch` only when it changed); attempts are inserted
or updated (an attempt that moved into a snapshot unchanged gets only its `snapshot`
number); snapshots and events are appended; limit slots held by attempts that ended
are released. Every write goes through `bulk` (COPY and unnest updates on PostgreSQL,
chunked executemany on SQLite), so a cascade over 100,000 nodes is a few statements
per 5,000 rows, not 100,000.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from typing import Any

from sqlalchemy import Connection

from stormflow.core import Attempt, Event, Outcome, Status

from .bulk import SMALL, dumps, insert_rows, update_rows
from .db import chunks
from .driver import Driver, driver
from .records import Lease
from .schema import attempts, events, nodes, snapshots
from .summary import read_head, summarize_outcome, summary_sets
from .view import StoreView

_ATTEMPT_FIELDS = (
    "number",
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


def _attempt_values(a: Attempt) -> tuple[Any, ...]:
    return tuple(getattr(a, f) for f in _ATTEMPT_FIELDS)


def persist(
    conn: Connection,
    view: StoreView,
    outcome: Outcome,
    *,
    last_seq: int,
    correlation: str | None = None,
    idempotency_key: str | None = None,
    lease: Lease | None = None,
) -> tuple[int | None, int | None]:
    """Persist the outcome inside the caller's transaction; returns (first_seq, last_seq).

    `lease`: attempts the outcome started that are leased to the caller at once (new
    attempts carry the lease in their insert; older ones get one update).
    """
    db = driver(conn)
    # PostgreSQL: a small outcome's writes go in one pipeline (one round trip, not one per
    # statement); COPY, for big ones, cannot run inside a pipeline.
    small = max(len(outcome.nodes), len(outcome.events), len(outcome.snapshots)) < SMALL
    with db.pipeline() if small else nullcontext():
        return _persist(conn, db, view, outcome, last_seq, correlation, idempotency_key, lease)


def _persist(
    conn: Connection,
    db: Driver,
    view: StoreView,
    outcome: Outcome,
    last_seq: int,
    correlation: str | None,
    idempotency_key: str | None,
    lease: Lease | None,
) -> tuple[int | None, int | None]:
    wf = view.workflow_id
    _write_nodes(conn, view, outcome)
    if outcome.snapshots:
        insert_rows(
            conn,
            snapshots,
            _SNAPSHOT_COLUMNS,
            (
                (
                    wf,
                    s.node,
                    s.number,
                    _json(s.patch),
                    s.status.value,
                    s.at,
                    s.actor,
                    s.why,
                    s.caused_by,
                )
                for s in outcome.snapshots
            ),
        )
    written, inserted = _write_attempts(conn, view, outcome, lease)
    if lease is not None:
        rest = [t for t in lease.tokens if t not in inserted]
        for chunk in chunks(rest):
            among, names = db.among("token", chunk)
            db.run(
                "UPDATE attempts SET lease_owner = ?, lease_expires = ? WHERE workflow_id = ?"
                f" AND {among} AND lease_owner IS NULL AND result IS NULL",
                (lease.owner, lease.until, wf, *names),
            )
    ended = [t for t, name in written if _holds_limits(view, name)]
    for chunk in chunks(ended):
        among, names = db.among("token", chunk)
        db.run(f"DELETE FROM limit_usage WHERE workflow_id = ? AND {among}", (wf, *names))
    head = view.head if view.head is not None else read_head(conn, wf)
    summary = summarize_outcome(conn, view, outcome, head) if head is not None else None
    return append_events(
        conn,
        wf,
        outcome.events,
        last_seq=last_seq,
        correlation=correlation,
        idempotency_key=idempotency_key,
        summary=summary,
    )


_SNAPSHOT_COLUMNS = (
    "workflow_id",
    "node",
    "number",
    "patch",
    "status",
    "at",
    "actor",
    "why",
    "caused_by",
)
_NODE_SET = (("status", "text"), ("snapshot_count", "int"), ("attempt_seq", "int"))
_ATTEMPT_TYPES = {
    "number": "int",
    "created_at": "float8",
    "not_before": "float8",
    "started_at": "float8",
    "ended_at": "float8",
    "result": "text",
    "exit_code": "int",
    "error": "text",
    "worker": "text",
    "log": "text",
    "snapshot": "int",
}


def _json(value: Mapping[str, Any]) -> str:
    return dumps(dict(value)) if value else "{}"


def _write_nodes(conn: Connection, view: StoreView, outcome: Outcome) -> None:
    """Node rows: status and counters always; `patch` only where it changed (a cascade
    leaves it alone, so its 100,000 rows rewrite no JSON)."""
    same: list[str] = []
    for name, n in outcome.nodes.items():
        old = view.original(name).patch
        if n.patch is old or n.patch == old:
            same.append(name)
    nodes_ = outcome.nodes
    if same:
        update_rows(
            conn,
            nodes,
            ("name", "text"),
            view.workflow_id,
            _NODE_SET,
            (
                (n.name, n.status.value, n.snapshot_count, n.attempt_seq)
                for n in (nodes_[name] for name in same)
            ),
        )
    if len(same) < len(nodes_):
        kept = set(same)
        update_rows(
            conn,
            nodes,
            ("name", "text"),
            view.workflow_id,
            (*_NODE_SET, ("patch", "jsonb")),
            (
                (n.name, n.status.value, n.snapshot_count, n.attempt_seq, dumps(dict(n.patch)))
                for name, n in nodes_.items()
                if name not in kept
            ),
        )


def takes_limits(config: Mapping[str, Any]) -> bool:
    """Whether claiming an attempt of a node with this configuration may take limit slots
    (named `limits`, or an external job's provider): such claims count usage (`claim`)."""
    return bool(config.get("limits")) or isinstance(config.get("provider"), str)


def _holds_limits(view: StoreView, name: str) -> bool:
    """Whether the node's attempt may hold limit slots: only a node whose configuration (as
    it was when the transaction began, i.e. when the attempt was claimed) lists limits."""
    return takes_limits(view.original(name).current)


def _write_attempts(
    conn: Connection, view: StoreView, outcome: Outcome, lease: Lease | None = None
) -> tuple[list[tuple[str, str]], set[str]]:
    """Insert new attempts, rewrite changed ones, move unchanged ones into their snapshot
    (one `snapshot` column each); returns (token, node) of attempts that ended just now, and
    the tokens inserted already leased."""
    wf = view.workflow_id
    touched = dict.fromkeys([*outcome.nodes, *(s.node for s in outcome.snapshots)])
    before: dict[str, Attempt] = {}
    for name in touched:
        for a in view.original(name).attempts:
            before[a.token] = a
    del touched

    # where every attempt of the touched nodes ends up: a snapshot, or the current run
    after: dict[str, tuple[str, Attempt, int | None]] = {}
    for snap in outcome.snapshots:
        for a in snap.attempts:
            after[a.token] = (snap.node, a, snap.number)
    for name, node in outcome.nodes.items():
        for a in node.attempts:
            after[a.token] = (name, a, None)

    inserts: list[tuple[Any, ...]] = []
    changed: list[tuple[Any, ...]] = []
    moved: list[tuple[str, int]] = []
    ended: list[tuple[str, str]] = []
    leased = set(lease.tokens) if lease is not None else set()
    owner, until = (lease.owner, lease.until) if lease is not None else (None, None)
    for token, (name, a, snap_no) in after.items():
        old = before.get(token)
        if old is None:
            held = token in leased and not a.ended
            inserts.append(
                (wf, name, token, snap_no, *_attempt_values(a))
                + ((owner, until) if held else (None, None))
            )
        elif old != a:
            changed.append((token, *_attempt_values(a), snap_no))
        elif snap_no is not None:
            moved.append((token, snap_no))
        if a.ended and (old is None or not old.ended):
            ended.append((token, name))
    del after, before
    if inserts:
        columns = (
            "workflow_id",
            "node",
            "token",
            "snapshot",
            *_ATTEMPT_FIELDS,
            "lease_owner",
            "lease_expires",
        )
        insert_rows(conn, attempts, columns, inserts)
    if changed:
        typed = [(f, _ATTEMPT_TYPES[f]) for f in (*_ATTEMPT_FIELDS, "snapshot")]
        update_rows(conn, attempts, ("token", "text"), wf, typed, changed)
    if moved:
        update_rows(conn, attempts, ("token", "text"), wf, [("snapshot", "int")], moved)
    inserted = {row[2] for row in inserts if row[-2] is not None}
    return ended, inserted


def append_events(
    conn: Connection,
    workflow_id: str,
    items: list[Event],
    *,
    last_seq: int,
    correlation: str | None = None,
    idempotency_key: str | None = None,
    summary: tuple[Mapping[Status, int], str] | None = None,
) -> tuple[int | None, int | None]:
    """Append events with consecutive seqs (the caller holds the workflow lock).

    With an idempotency key the first event carries it and the others `key#2`,
    `key#3`..., so the unique index refuses a second application of the request.
    `summary`: the workflow's new (counts, status), written with its last seq.
    """
    if not items:
        if summary is not None:
            sets, values = summary_sets(*summary)
            driver(conn).run(f"UPDATE workflows SET {sets} WHERE id = ?", (*values, workflow_id))
        return None, None
    first = last_seq + 1

    def rows() -> Iterator[tuple[Any, ...]]:
        for i, ev in enumerate(items):
            key = None
            if idempotency_key is not None:
                key = idempotency_key if i == 0 else f"{idempotency_key}#{i + 1}"
            yield (
                workflow_id,
                first + i,
                ev.type,
                ev.node,
                ev.old.value if ev.old is not None else None,
                ev.new.value if ev.new is not None else None,
                ev.actor,
                ev.at,
                ev.why,
                ev.caused_by,
                _json(ev.payload),
                correlation,
                key,
            )

    insert_rows(conn, events, _EVENT_COLUMNS, rows())
    last = first + len(items) - 1
    db = driver(conn)
    if summary is None:
        db.run("UPDATE workflows SET last_seq = ? WHERE id = ?", (last, workflow_id))
    else:
        sets, values = summary_sets(*summary)
        db.run(
            f"UPDATE workflows SET last_seq = ?, {sets} WHERE id = ?", (last, *values, workflow_id)
        )
    if db.postgres:  # delivered at commit, to every server's event pump (api/pump.py)
        db.run(f"SELECT pg_notify('{EVENTS_CHANNEL}', ?)", (workflow_id,))
    return first, last


#: The PostgreSQL notification channel told the workflow id of every commit that appends events.
EVENTS_CHANNEL = "storm_events"

_EVENT_COLUMNS = (
    "workflow_id",
    "seq",
    "type",
    "node",
    "old",
    "new",
    "actor",
    "at",
    "why",
    "caused_by",
    "payload",
    "correlation",
    "idempotency_key",
)
