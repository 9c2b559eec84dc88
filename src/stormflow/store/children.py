"""Sub-workflows in the store: links from a parent attempt to its child workflow.

A `workflow` node's attempt starts a child workflow. The child's rows, the link and the
hand-over of the parent attempt's lease are written in one transaction (`link_child`, run
inside `Store.submit`): a scheduler killed at any point leaves either no child (the attempt
is lost and retried) or exactly one child that its parent attempt follows.

A followed attempt is leased to `CHILD_OWNER` for good: no scheduler takes it for lost, no
executor runs it; the engine (`engine/subworkflows.py`) ends it when the child ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, update

from stormflow.core import Event, Status, derive_status

from .db import Database
from .driver import driver
from .persist import append_events
from .records import UnknownWorkflow
from .schema import attempts
from .summary import COUNT_COLUMNS

#: The lease owner of attempts that follow a child workflow (no host, no pid: never "dead").
CHILD_OWNER = "storm-child"
#: Their lease never runs out: the child, not a heartbeat, says when the attempt ends.
FOREVER = 1e18


class ChildNotLinked(RuntimeError):
    """The parent attempt is no longer live and ours (stopped meanwhile): no child started."""


@dataclass(frozen=True, slots=True)
class ChildRow:
    """One link: a parent node's attempt and the child workflow it started or follows."""

    parent_id: str
    node: str
    token: str
    child_id: str
    created_at: float
    #: the parent attempt: its result (None: live), whether a snapshot keeps it now
    result: str | None = None
    snapshotted: bool = False
    #: the child workflow's summary
    name: str = ""
    status: str = "running"
    counts: dict[Status, int] = field(default_factory=dict)
    last_seq: int = 0
    archived: bool = False
    expires_at: float | None = None  # its time to live: nothing more runs after it

    @property
    def current(self) -> bool:
        """Whether the parent node's current run holds this attempt (not a snapshot)."""
        return not self.snapshotted

    def as_dict(self) -> dict[str, Any]:
        return {
            "workflow_id": self.child_id,
            "name": self.name,
            "node": self.node,
            "token": self.token,
            "created_at": self.created_at,
            "status": self.status,
            "counts": {s.value: n for s, n in self.counts.items() if n},
            "current": self.current,
            "attempt_result": self.result,
        }


@dataclass(frozen=True, slots=True)
class FollowRow:
    """What the engine reads to make a parent node follow its child (one per link)."""

    link: ChildRow
    attempt_id: int
    node_status: Status
    #: the attempt is the newest of the node's current run: the node follows this child
    latest: bool


def link_child(
    conn: Connection,
    *,
    parent_id: str,
    node: str,
    token: str,
    owner: str,
    child_id: str,
    at: float,
) -> None:
    """Inside the child's submit transaction: take the parent attempt over from the
    scheduler `owner` that claimed it (still live and its), record the link, and tell the
    parent's event log. Raises ChildNotLinked (rolling the child back) when the attempt
    was stopped or taken meanwhile."""
    db = driver(conn)
    lock = " FOR UPDATE" if db.postgres else ""  # SQLite: the submit's BEGIN IMMEDIATE
    rows = db.rows(f"SELECT last_seq FROM workflows WHERE id = ?{lock}", (parent_id,))
    if not rows or rows[0][0] < 0:
        raise UnknownWorkflow(parent_id)
    taken = conn.execute(
        update(attempts)
        .where(
            attempts.c.workflow_id == parent_id,
            attempts.c.token == token,
            attempts.c.result.is_(None),
            attempts.c.snapshot.is_(None),
            attempts.c.lease_owner == owner,
        )
        .values(lease_owner=CHILD_OWNER, lease_expires=FOREVER, worker=f"child {child_id}")
    ).rowcount
    if taken != 1:
        raise ChildNotLinked(f"{parent_id}/{token}: the attempt is no longer live")
    insert_link(conn, parent_id, node, token, child_id, at)
    event = Event(  # no status change: the node runs on, its attempt now follows the child
        "child-started",
        node,
        at=at,
        payload={"token": token, "child": child_id},
    )
    append_events(conn, parent_id, [event], last_seq=int(rows[0][0]))


def insert_link(
    conn: Connection, parent_id: str, node: str, token: str, child_id: str, at: float
) -> None:
    driver(conn).run(
        "INSERT INTO workflow_links (parent_id, token, node, child_id, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (parent_id, token, node, child_id, at),
    )


_CHILD_COLUMNS = (
    "l.parent_id, l.node, l.token, l.child_id, l.created_at, a.result, a.snapshot, "
    "c.name, c.status, c.last_seq, c.archived, "
    + ", ".join(f"c.{column}" for column in COUNT_COLUMNS)
    + ", c.expires_at"
)
_CHILD_COUNTS = ", ".join(f"c.{column}" for column in COUNT_COLUMNS)
_FROM = (
    " FROM workflow_links l"
    " JOIN attempts a ON a.workflow_id = l.parent_id AND a.token = l.token"
    " JOIN workflows c ON c.id = l.child_id"
)


def _child_row(r: Sequence[Any]) -> ChildRow:
    return ChildRow(
        parent_id=r[0],
        node=r[1],
        token=r[2],
        child_id=r[3],
        created_at=r[4],
        result=r[5],
        snapshotted=r[6] is not None,
        name=r[7],
        status=r[8],
        last_seq=int(r[9]),
        archived=bool(r[10]),
        counts=dict(zip(Status, (int(n) for n in r[11:18]), strict=True)),
        expires_at=r[18],
    )


class Children(Database):
    """Reads of the links, for the API, the CLI and the engine."""

    def children(self, parent_id: str) -> list[ChildRow]:
        """The parent's children, one row per child (its newest link), oldest first."""
        with self.read() as conn:
            rows = driver(conn).rows(
                f"SELECT {_CHILD_COLUMNS}, a.id{_FROM} WHERE l.parent_id = ? ORDER BY a.id",
                (parent_id,),
            )
        newest: dict[str, ChildRow] = {}
        for r in rows:
            row = _child_row(r)
            newest.pop(row.child_id, None)  # keep the order of the newest link
            newest[row.child_id] = row
        return list(newest.values())

    def node_children(self, parent_id: str, names: Iterable[str]) -> dict[str, ChildRow]:
        """Of these parent nodes, each one's current child (the newest link of its current
        run), for nodes of kind `workflow`."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        found: dict[str, ChildRow] = {}
        with self.read() as conn:
            db = driver(conn)
            among, params = db.among("l.node", wanted)
            rows = db.rows(
                f"SELECT {_CHILD_COLUMNS}{_FROM} WHERE l.parent_id = ? AND {among}"
                " AND a.snapshot IS NULL ORDER BY a.id",
                (parent_id, *params),
            )
        for r in rows:
            row = _child_row(r)
            found[row.node] = row  # the newest wins
        return found

    def children_by_token(self, parent_id: str, node: str) -> dict[str, str]:
        """A node's attempt tokens -> the child workflow each started or followed, across its
        snapshots (what a snapshot of a `workflow` node records of its old child)."""
        with self.read() as conn:
            rows = driver(conn).rows(
                "SELECT token, child_id FROM workflow_links WHERE parent_id = ? AND node = ?",
                (parent_id, node),
            )
        return {str(t): str(c) for t, c in rows}

    def parent_of(self, child_id: str) -> ChildRow | None:
        """The link that started this workflow (its parent workflow, node and attempt)."""
        with self.read() as conn:
            rows = driver(conn).rows(
                f"SELECT {_CHILD_COLUMNS}{_FROM} WHERE l.child_id = ? ORDER BY a.id LIMIT 1",
                (child_id,),
            )
        return _child_row(rows[0]) if rows else None

    def parents_of(self, child_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """child id -> its parent link ({workflow_id, node, token}: the attempt that started
        it), for those of `child_ids` that are children."""
        ids = list(dict.fromkeys(child_ids))
        if not ids:
            return {}
        with self.read() as conn:
            db = driver(conn)
            among, params = db.among("child_id", ids)
            rows = db.rows(
                "SELECT child_id, parent_id, node, token FROM workflow_links"
                f" WHERE {among} ORDER BY created_at DESC",
                params,
            )
        # oldest last: it wins (the attempt that started the child)
        return {str(c): {"workflow_id": p, "node": n, "token": t} for c, p, n, t in rows}

    def descendants(self, workflow_ids: Iterable[str]) -> set[str]:
        """Every workflow started below these (children, their children...)."""
        found: set[str] = set()
        frontier = list(dict.fromkeys(workflow_ids))
        with self.read() as conn:
            db = driver(conn)
            while frontier:
                among, params = db.among("parent_id", frontier)
                rows = db.rows(
                    f"SELECT DISTINCT child_id FROM workflow_links WHERE {among}", params
                )
                frontier = [str(c) for (c,) in rows if str(c) not in found]
                found.update(frontier)
        return found

    def rollup(self, workflow_id: str, children: list[ChildRow] | None = None) -> dict[Status, int]:
        """Nodes per status of the workflow's own nodes, plus the rollup of each child its
        `workflow` nodes follow now, at every depth (the Monitor's header): a `workflow`
        node that follows a child stands for its child's nodes, one that follows none
        (not started yet) counts as itself."""
        total: dict[Status, int] = {}
        seen: set[str] = set()
        frontier = [workflow_id]
        while frontier:
            current = frontier.pop()
            if current in seen:
                continue
            seen.add(current)
            rows = children if current == workflow_id and children is not None else None
            followed = [c for c in (rows or self.children(current)) if c.current]
            if not followed:  # no children: the summary's counts
                with self.read() as conn:
                    found = driver(conn).rows(
                        f"SELECT {', '.join(COUNT_COLUMNS)} FROM workflows WHERE id = ?",
                        (current,),
                    )
                for status, n in zip(Status, found[0] if found else (), strict=False):
                    total[status] = total.get(status, 0) + int(n)
                continue
            latest: dict[str, str] = {c.node: c.child_id for c in followed}  # newest per node
            with self.read() as conn:
                db = driver(conn)
                found = db.rows(
                    "SELECT status, COUNT(*) FROM nodes WHERE workflow_id = ? AND kind <> ?"
                    " GROUP BY status",
                    (current, "workflow"),
                )
                # a `workflow` node that follows no child (not started yet, or stopped
                # before its child started) counts as itself: the header adds up
                found += [
                    (status, 1)
                    for name, status in db.rows(
                        "SELECT name, status FROM nodes WHERE workflow_id = ? AND kind = ?",
                        (current, "workflow"),
                    )
                    if name not in latest
                ]
            for status, n in found:
                total[Status(status)] = total.get(Status(status), 0) + int(n)
            frontier.extend(latest.values())
        return total

    def to_follow(self, parent_ids: Iterable[str] | None = None) -> list[FollowRow]:
        """Links the engine may have to act on: the parent attempt is live (the child may
        have ended), or the parent node finished and its child's status differs (an action
        inside the child), or the child still runs nodes (it may have to be stopped)."""
        sql = (
            f"SELECT {_CHILD_COLUMNS}, a.id, n.status, (SELECT MAX(b.id) FROM attempts b"
            " WHERE b.workflow_id = l.parent_id AND b.node = l.node AND b.snapshot IS NULL)"
            f"{_FROM}"
            " JOIN nodes n ON n.workflow_id = l.parent_id AND n.name = l.node"
            " WHERE (c.archived = ? OR a.result IS NULL)"
            " AND (a.result IS NULL OR c.count_running > 0 OR (a.snapshot IS NULL"
            " AND n.status IN ('succeeded', 'failed') AND c.status <> n.status))"
        )
        params: list[Any] = [False]
        with self.read() as conn:
            db = driver(conn)
            if parent_ids is not None:
                ids = list(parent_ids)
                if not ids:
                    return []
                among, more = db.among("l.parent_id", ids)
                sql += f" AND {among}"
                params += list(more)
            rows = db.rows(sql + " ORDER BY a.id", params)
            found = [
                FollowRow(_child_row(r), int(r[19]), Status(r[20]), r[21] == r[19]) for r in rows
            ]
            # a live child that runs only because its own children hold is holding to its
            # parent node too (the `child-status` the engine tells, at any depth)
            live = {
                f.link.child_id: (f.link.status, f.link.counts)
                for f in found
                if f.link.result is None and f.link.counts.get(Status.RUNNING)
            }
            holding = {
                c
                for c, s in (reported_statuses(conn, live) if live else {}).items()
                if s == "holding"
            }
        return [
            replace(f, link=replace(f.link, status="holding"))
            if f.link.child_id in holding and f.link.result is None
            else f
            for f in found
        ]


def reported_statuses(
    conn: Connection, rows: dict[str, tuple[str, dict[Status, int]]]
) -> dict[str, str]:
    """The status a workflow reports, given its stored (status, counts): a workflow whose
    only running nodes follow children that are holding, directly or because their own
    children hold (at any depth), reports what it would be if those nodes were holding
    (spec: a child left holding makes its parent's workflow holding). Returns only the
    workflows whose reported status differs from the stored one."""
    known: dict[str, tuple[str, dict[Status, int]]] = dict(rows)
    # live followed links, walked down from the running workflows, level by level
    below: dict[str, list[str]] = {}
    frontier = [w for w, (_, counts) in rows.items() if counts.get(Status.RUNNING)]
    seen = set(frontier)
    db = driver(conn)
    while frontier:
        among, params = db.among("l.parent_id", frontier)
        found = db.rows(
            f"SELECT l.parent_id, l.child_id, c.status, {_CHILD_COUNTS}"
            " FROM workflow_links l"
            " JOIN attempts a ON a.workflow_id = l.parent_id AND a.token = l.token"
            " JOIN workflows c ON c.id = l.child_id"
            f" WHERE {among} AND a.result IS NULL AND a.snapshot IS NULL",
            params,
        )
        frontier = []
        for r in found:
            parent, child = str(r[0]), str(r[1])
            below.setdefault(parent, []).append(child)
            counts = dict(zip(Status, (int(n) for n in r[3 : 3 + len(COUNT_COLUMNS)]), strict=True))
            known.setdefault(child, (str(r[2]), counts))
            if counts.get(Status.RUNNING) and child not in seen:  # it may hold through its own
                seen.add(child)
                frontier.append(child)
    memo: dict[str, str] = {}

    def status_of(workflow_id: str, depth: int = 0) -> str:
        if workflow_id in memo:
            return memo[workflow_id]
        status, counts = known[workflow_id]
        memo[workflow_id] = status  # a (corrupt) cycle of links ends here
        running = counts.get(Status.RUNNING, 0)
        kids = below.get(workflow_id, [])
        if running and kids and depth < 64:
            holding = sum(status_of(k, depth + 1) == "holding" for k in kids)
            if holding >= running:  # no other node runs: the workflow makes no progress
                moved = dict(counts)
                moved[Status.HOLDING] = moved.get(Status.HOLDING, 0) + moved.pop(Status.RUNNING)
                memo[workflow_id] = derive_status(moved, 0).value
        return memo[workflow_id]

    changed: dict[str, str] = {}
    for workflow_id, (status, _) in rows.items():
        reported = status_of(workflow_id)
        if reported != status:
            changed[workflow_id] = reported
    return changed


__all__ = [
    "CHILD_OWNER",
    "FOREVER",
    "ChildNotLinked",
    "ChildRow",
    "Children",
    "FollowRow",
    "insert_link",
    "link_child",
    "reported_statuses",
]
