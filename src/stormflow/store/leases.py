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

from sqlalchemy import Exists, func, select, update

from stormflow.core import Node, Status, started

from .db import Database, chunks
from .persist import persist
from .queries import find_runnable
from .records import LimitRow, PendingAttempt
from .schema import attempts, limit_usage, limits, nodes, workflows
from .view import StoreView


def _limit_names(node: Node) -> list[str]:
    wanted = node.current.get("limits") or []
    if isinstance(wanted, str):
        wanted = [wanted]
    return sorted({str(n) for n in wanted})  # sorted: every claim locks limits in one order


class Leases(Database):
    def pending_attempts(
        self, now: float, limit: int = 100, workflow_id: str | None = None
    ) -> list[PendingAttempt]:
        """Live, unleased attempts due by `now`, oldest first, across workflows.

        One table, read along its partial index: no join whose plan depends on statistics
        (a claim re-checks that the attempt is its node's live one)."""
        query = (
            select(attempts.c.workflow_id, attempts.c.node, attempts.c.token, attempts.c.not_before)
            .where(
                attempts.c.result.is_(None),
                attempts.c.lease_owner.is_(None),
                attempts.c.snapshot.is_(None),
                attempts.c.not_before <= now,
            )
            .order_by(attempts.c.not_before, attempts.c.id)
            .limit(limit)
        )
        if workflow_id is not None:
            query = query.where(attempts.c.workflow_id == workflow_id)
        with self.read() as conn:
            return [PendingAttempt(*row) for row in conn.execute(query)]

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
        with self.on_workflow(workflow_id) as (conn, last_seq):
            view = StoreView(conn, workflow_id, self.adjacency(conn, workflow_id))
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
            persist(conn, view, outcome, last_seq=last_seq)
            return outcome.nodes[node]

    def expired_running(self, now: float) -> list[str]:
        """Workflows whose time to live ran out by `now` and that still have running nodes."""
        running = (
            select(1)
            .where(nodes.c.workflow_id == workflows.c.id, nodes.c.status == Status.RUNNING.value)
            .exists()
        )
        query = (
            select(workflows.c.id)
            .where(workflows.c.expires_at.is_not(None), workflows.c.expires_at <= now, running)
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
        query = (
            select(attempts.c.workflow_id, attempts.c.node, attempts.c.token)
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
            return [(w, n, t) for w, n, t in conn.execute(query)]

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
        run now.

        Candidates (a running or open node: index probes) are found in SQL; whether an
        open node of a candidate without running nodes may run is answered per workflow
        by `find_runnable`.
        """

        def has(status: Status) -> Exists:
            return (
                select(1)
                .where(nodes.c.workflow_id == workflows.c.id, nodes.c.status == status.value)
                .exists()
            )

        at = time.time() if now is None else now
        query = (
            select(workflows.c.id, has(Status.RUNNING))
            .where(
                workflows.c.archived.is_(False),
                workflows.c.expires_at.is_(None) | (workflows.c.expires_at > at),
                has(Status.RUNNING) | has(Status.OPEN),
            )
            .order_by(workflows.c.created_at, workflows.c.id)
        )
        with self.read() as conn:
            return [
                wf
                for wf, running in conn.execute(query).all()
                if running or find_runnable(conn, wf, self.adjacency(conn, wf), limit=1)
            ]
