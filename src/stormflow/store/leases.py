"""Scheduling support: pending attempts, claims with leases and named limits, heartbeats.

A claim is one transaction on the attempt's workflow: it re-checks that the
attempt is still the node's live one and unleased, takes a slot in every named
limit the node's configuration lists, and records the attempt as started. The
limit rows are locked (PostgreSQL; on SQLite the write lock covers it) so two
workflows cannot both take a limit's last slot.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import false, func, select, update

from stormflow.core import Node, WorkflowStatus, started

from .db import Database, chunks
from .driver import driver
from .persist import persist
from .records import LimitRow, PendingAttempt
from .schema import attempts, limit_usage, limits, workflows
from .view import StoreView


def _limit_names(node: Node) -> list[str]:
    wanted = node.current.get("limits") or []
    if isinstance(wanted, str):
        wanted = [wanted]
    names = {str(n) for n in wanted}
    provider = node.current.get("provider")
    if isinstance(provider, str):  # an external job: its provider's max_concurrent
        names.add(f"provider:{provider}")
    return sorted(names)  # sorted: every claim locks limits in one order


class Leases(Database):
    def pending_attempts(
        self, now: float, limit: int = 100, workflow_id: str | None = None
    ) -> list[PendingAttempt]:
        """Live, unleased attempts due by `now`, oldest first, across workflows.

        One table, read along its partial index: no join whose plan depends on statistics
        (a claim re-checks that the attempt is its node's live one). SQLite is told the
        index: without statistics it preferred `ix_attempts_owner` (lease_owner IS NULL
        matches every attempt never claimed) and read them all, 8 ms per poll at 10,000
        stored workflows."""
        hint = "" if self.dialect == "postgresql" else " INDEXED BY ix_attempts_pending"
        sql = (
            f"SELECT workflow_id, node, token, not_before FROM attempts{hint}"
            " WHERE result IS NULL AND lease_owner IS NULL AND snapshot IS NULL"
            " AND not_before <= ?"
        )
        params: list[Any] = [now]
        if workflow_id is not None:
            sql += " AND workflow_id = ?"
            params.append(workflow_id)
        sql += " ORDER BY not_before, id LIMIT ?"
        params.append(limit)
        with self.read() as conn:
            db = driver(conn)
            found = [PendingAttempt(*row) for row in db.rows(sql, params)]
            if not found:
                return found
            # an archived workflow's attempts are never claimed (its own table, by key)
            among, ids = db.among("id", sorted({p.workflow_id for p in found}))
            sql = f"SELECT id FROM workflows WHERE {among} AND archived"
            archived = {w for (w,) in db.rows(sql, ids)}
        return [p for p in found if p.workflow_id not in archived]

    def claim(
        self,
        workflow_id: str,
        node: str,
        token: str,
        *,
        owner: str,
        now: float,
        lease_seconds: float,
        worker: str | None = None,
        log: str | None = None,
    ) -> Node | None:
        """Lease the attempt and mark it started, or None if it is gone, leased or limited."""
        with self.locked(workflow_id) as (conn, head, _found):
            if head.archived:  # an archived workflow runs nothing more
                return None
            view = StoreView(conn, workflow_id, self.adjacency(conn, workflow_id))
            view.head = head
            if not view.has(node) or view.node(node).live_token != token:
                return None
            leased = conn.execute(
                select(attempts.c.lease_owner).where(
                    attempts.c.workflow_id == workflow_id, attempts.c.token == token
                )
            ).scalar_one_or_none()
            if leased is not None:
                return None
            wanted = _limit_names(view.node(node))
            if wanted:
                caps = dict(
                    conn.execute(
                        select(limits.c.name, limits.c.capacity)
                        .where(limits.c.name.in_(wanted))
                        .order_by(limits.c.name)
                        .with_for_update()
                    ).all()
                )
                used: dict[str, int] = dict(
                    conn.execute(
                        select(limit_usage.c.limit, func.count())
                        .where(limit_usage.c.limit.in_(list(caps)))
                        .group_by(limit_usage.c.limit)
                    ).all()
                )
                if any(used.get(name, 0) >= cap for name, cap in caps.items()):
                    return None
                if caps:
                    conn.execute(
                        limit_usage.insert(),
                        [{"limit": n, "workflow_id": workflow_id, "token": token} for n in caps],
                    )
            conn.execute(
                update(attempts)
                .where(attempts.c.workflow_id == workflow_id, attempts.c.token == token)
                .values(lease_owner=owner, lease_expires=now + lease_seconds)
            )
            outcome = started(view, node, token, at=now, worker=worker, log=log)
            persist(conn, view, outcome, last_seq=head.last_seq)
            return outcome.nodes[node]

    def expired_running(self, now: float) -> list[str]:
        """Workflows whose time to live ran out by `now` and that still have running nodes."""
        query = (
            select(workflows.c.id)
            .where(
                workflows.c.archived == false(),  # along ix_workflows_status
                workflows.c.status == WorkflowStatus.RUNNING.value,
                workflows.c.count_running > 0,
                workflows.c.expires_at.is_not(None),
                workflows.c.expires_at <= now,
            )
            .order_by(workflows.c.expires_at, workflows.c.id)
        )
        with self.read() as conn:
            return list(conn.execute(query).scalars())

    def renew(self, owner: str, tokens: Iterable[str], until: float) -> int:
        """Extend the owner's leases on these (live) attempts; returns how many were renewed."""
        names = list(tokens)
        renewed = 0
        with self.write() as conn:
            for chunk in chunks(names):
                result = conn.execute(
                    update(attempts)
                    .where(
                        attempts.c.lease_owner == owner,
                        attempts.c.token.in_(chunk),
                        attempts.c.result.is_(None),
                    )
                    .values(lease_expires=until)
                )
                renewed += result.rowcount
        return renewed

    def expired(
        self, now: float, limit: int = 100, workflow_ids: Iterable[str] | None = None
    ) -> list[tuple[str, str, str]]:
        """(workflow, node, token) of live attempts whose lease ran out: their worker is lost.

        `workflow_ids`: only these workflows' (a `storm run` acts on its own workflow only).
        """
        return [(w, n, t) for w, n, t, _o, _l in self.expired_leases(now, limit, workflow_ids)]

    def expired_leases(
        self, now: float, limit: int = 100, workflow_ids: Iterable[str] | None = None
    ) -> list[tuple[str, str, str, str, str | None]]:
        """`expired`, with each attempt's lease owner and log path (to adopt it)."""
        query = (
            select(
                attempts.c.workflow_id,
                attempts.c.node,
                attempts.c.token,
                attempts.c.lease_owner,
                attempts.c.log,
            )
            .where(
                attempts.c.result.is_(None),
                attempts.c.lease_owner.is_not(None),
                attempts.c.lease_expires < now,
                attempts.c.snapshot.is_(None),
            )
            .order_by(attempts.c.lease_expires, attempts.c.id)
            .limit(limit)
        )
        if workflow_ids is not None:
            query = query.where(attempts.c.workflow_id.in_(list(workflow_ids)))
        with self.read() as conn:
            return [(w, n, t, o, lg) for w, n, t, o, lg in conn.execute(query)]

    def dead_tokens(self, owner: str, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Of these (workflow, token) attempts leased by `owner`, those no longer live.

        An attempt stopped by a person through another process (API, CLI) ends in the
        database first; the scheduler running it learns here that it must kill it.
        """
        wanted = list(pairs)
        live: set[tuple[str, str]] = set()
        with self.read() as conn:
            for chunk in chunks(wanted):
                tokens = [t for _, t in chunk]
                query = select(attempts.c.workflow_id, attempts.c.token).where(
                    attempts.c.token.in_(tokens),
                    attempts.c.lease_owner == owner,
                    attempts.c.result.is_(None),
                    attempts.c.snapshot.is_(None),
                )
                live.update((w, t) for w, t in conn.execute(query))
        return [pair for pair in wanted if pair not in live]

    def lease_owners(self) -> list[str]:
        """Owners holding leases on live attempts (to spot dead schedulers)."""
        query = (
            select(attempts.c.lease_owner)
            .where(attempts.c.lease_owner.is_not(None), attempts.c.result.is_(None))
            .distinct()
        )
        with self.read() as conn:
            return [str(o) for o in conn.execute(query).scalars()]

    def live_tokens(self, owner: str) -> list[tuple[str, str]]:
        """(workflow, token) of the live attempts leased to `owner`."""
        query = select(attempts.c.workflow_id, attempts.c.token).where(
            attempts.c.lease_owner == owner, attempts.c.result.is_(None)
        )
        with self.read() as conn:
            return [(str(w), str(t)) for w, t in conn.execute(query).all()]

    def live_attempts(self, owner: str) -> list[tuple[str, str, str, str | None]]:
        """(workflow, node, token, log path) of the live attempts leased to `owner`."""
        query = select(
            attempts.c.workflow_id, attempts.c.node, attempts.c.token, attempts.c.log
        ).where(attempts.c.lease_owner == owner, attempts.c.result.is_(None))
        with self.read() as conn:
            return [(str(w), str(n), str(t), lg) for w, n, t, lg in conn.execute(query).all()]

    def adopt_leases(
        self, old: str, new: str, pairs: Iterable[tuple[str, str]], until: float
    ) -> list[tuple[str, str]]:
        """Move the leases of these live (workflow, token) attempts from `old` to `new`: a
        restarted scheduler watches its dead predecessor's running attempts instead of
        rerunning them. Returns those moved (another scheduler may have taken some first)."""
        moved = []
        with self.write() as conn:
            for workflow_id, token in pairs:
                result = conn.execute(
                    update(attempts)
                    .where(
                        attempts.c.workflow_id == workflow_id,
                        attempts.c.token == token,
                        attempts.c.lease_owner == old,
                        attempts.c.result.is_(None),
                    )
                    .values(lease_owner=new, lease_expires=until)
                )
                if result.rowcount:
                    moved.append((workflow_id, token))
        return moved

    def release_owner(self, owner: str, workflow_ids: Iterable[str] | None = None) -> int:
        """Graceful shutdown: expire the owner's leases now so another scheduler recovers them
        (only those of `workflow_ids`, when given)."""
        query = (
            update(attempts)
            .where(attempts.c.lease_owner == owner, attempts.c.result.is_(None))
            .values(lease_expires=0.0)
        )
        if workflow_ids is not None:
            query = query.where(attempts.c.workflow_id.in_(list(workflow_ids)))
        with self.write() as conn:
            return conn.execute(query).rowcount

    def set_limit(self, name: str, capacity: int) -> None:
        if capacity < 0:
            raise ValueError("a limit's capacity cannot be negative")
        with self.write() as conn:
            result = conn.execute(
                update(limits).where(limits.c.name == name).values(capacity=capacity)
            )
            if result.rowcount == 0:
                conn.execute(limits.insert().values(name=name, capacity=capacity))

    def limits(self) -> list[LimitRow]:
        used = (
            select(limit_usage.c.limit, func.count().label("used"))
            .group_by(limit_usage.c.limit)
            .subquery()
        )
        query = (
            select(limits.c.name, limits.c.capacity, func.coalesce(used.c.used, 0))
            .outerjoin(used, used.c.limit == limits.c.name)
            .order_by(limits.c.name)
        )
        with self.read() as conn:
            return [LimitRow(n, c, u) for n, c, u in conn.execute(query)]

    def workflows_with_work(self, now: float | None = None) -> list[str]:
        """Non-archived, unexpired (at `now`) workflows with a running node or a node that may
        run now: those whose summary says "running" (see `work`)."""
        return [wf for wf, _seq in self.work(now)]

    def work(self, now: float | None = None) -> list[tuple[str, int]]:
        """(workflow, last event seq) of the workflows with work, oldest first: one read
        along the status index, whatever else the store keeps (held, failed, finished)."""
        at = time.time() if now is None else now
        query = (
            select(workflows.c.id, workflows.c.last_seq)
            .where(
                workflows.c.archived == false(),  # `IS false` would not use the index
                workflows.c.status == WorkflowStatus.RUNNING.value,
                workflows.c.expires_at.is_(None) | (workflows.c.expires_at > at),
            )
            .order_by(workflows.c.created_at, workflows.c.id)
        )
        with self.read() as conn:
            return [(str(wf), int(seq)) for wf, seq in conn.execute(query).all()]
