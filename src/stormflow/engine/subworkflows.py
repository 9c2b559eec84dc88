"""Sub-workflows at run time: a `workflow` node starts a child workflow and follows it.

The scheduler hands the attempts of `workflow` nodes it claimed together (a `for_each` of
shots) here instead of to an executor (they take no slot). `start_many` instantiates each
node's child document and submits it as a workflow of its own, in the transaction that
links it to its parent attempt and takes that attempt over from the scheduler's lease
(`store.children.link_child`); small children go several to a transaction
(`Store.submit_small`, up to SUBMIT_BATCH rows): a scheduler killed at any point leaves,
for each attempt, no child (the attempt is lost and retried) or exactly one.

`follow`, on every housekeeping turn, reads the links that may need acting on and makes
the parent follow its child (spec: Nodes that stand for work elsewhere):
- the child's derived status became succeeded or failed: the parent attempt's result, as
  an executor would report it (applied by token, so a duplicate changes nothing);
- it became holding, or running again: a `child-status` event on the parent (the node
  stays running, phase "child holding"; the parent's workflow reports holding when nothing
  else runs);
- the parent node had finished and an action inside the child changed the child's status:
  `core.reopen` (back to running, the cascade below it as for a retry);
- the parent attempt was stopped (cancel, skip, retry, update of the node, a cascade): the
  child's running nodes are canceled, once; the child keeps its history.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from stormflow import core
from stormflow.core import Outcome, Status
from stormflow.engine.jobs import JobResult
from stormflow.spec import DocumentError, Severity, expand
from stormflow.spec.templates import child_document as checked_child_document
from stormflow.spec.tokens import render_text
from stormflow.store import Lease, StoreView
from stormflow.store.children import (
    CHILD_OWNER,
    FOREVER,
    ChildNotLinked,
    ChildRow,
    FollowRow,
    insert_link,
    link_child,
)
from stormflow.store.store import SUBMIT_BATCH, NewWorkflow

if TYPE_CHECKING:
    from stormflow.engine.scheduler import Scheduler

log = logging.getLogger(__name__)

#: The kind whose attempts start child workflows.
KIND = "workflow"


class ChildError(ValueError):
    """The node's configuration does not give a valid child document (one line)."""


def child_document(config: Mapping[str, Any], tokens: Mapping[str, object]) -> dict[str, Any]:
    """The child workflow's checked document (`spec.templates.child_document`: the node's
    template instantiated with its params; raises DocumentError naming what is wrong). Text
    params may use the parent's tokens (`${workflow-id}`: the parent's id), filled in first."""
    raw = config.get("params")
    if isinstance(raw, dict):
        params = {k: render_text(v, tokens) if isinstance(v, str) else v for k, v in raw.items()}
        config = {**config, "params": params}
    return checked_child_document(config)


class Subworkflows:
    """The scheduler's side of sub-workflows: starting children and following them."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.store = scheduler.store
        # (parent, token) whose result was handed to the loop / whose child was stopped
        self._reported: set[tuple[str, str]] = set()
        self._stopped: set[tuple[str, str]] = set()
        # (parent, token) -> the child status last told to the parent (running / holding)
        self._told: dict[tuple[str, str], str] = {}
        wanted = scheduler.settings.workflows
        if wanted is not None:  # `storm run`/`resume`: its workflow's children run here too
            wanted |= self.store.descendants(wanted)

    # -- starting ---------------------------------------------------------------------
    def start(self, workflow_id: str, node: core.Node, token: str, logfile: str) -> bool:
        """Start the child of one claimed attempt (see `start_many`)."""
        return self.start_many(workflow_id, [(node, token, logfile)]) == 1

    def start_many(self, workflow_id: str, claimed: Sequence[tuple[core.Node, str, str]]) -> int:
        """Start the children of attempts claimed together (a `for_each` of shots): small
        children go in groups of up to SUBMIT_BATCH rows, each group one transaction (every
        child's rows, its link and the hand-over of its parent attempt: a scheduler killed
        before the commit leaves none of the group, after it all of it). A configuration
        that gives no valid child fails its attempt alone. Returns how many started."""
        sched = self.scheduler
        now = sched.clock()
        name = sched._workflow_name(workflow_id)
        planned: list[NewWorkflow] = []
        for node, token, logfile in claimed:
            item = self._planned(workflow_id, name, node, token, logfile, now)
            if item is not None:
                planned.append(item)
        started: list[tuple[str, NewWorkflow]] = []
        group: list[NewWorkflow] = []
        for item in [*planned, None]:
            if group and (item is None or sum(g.rows for g in group) + item.rows > SUBMIT_BATCH):
                started += self._submit_group(group)
                group = []
            if item is None:
                break
            if item.rows > SUBMIT_BATCH:  # big: in bounded transactions of its own
                started += self._submit_one(item)
            else:
                group.append(item)
        wanted = sched.settings.workflows
        for child_id, item in started:
            if wanted is not None:
                wanted.add(child_id)
            # its open roots, known from the plan (no read per child)
            below = {d for _, d in item.edges}
            runnable = [
                p.name
                for p in item.nodes
                if p.name not in below and Status(p.status) is Status.OPEN
            ]
            if runnable:
                sched._check[child_id].update(runnable)
        if started:
            log.info("%s started %d child workflow(s)", workflow_id, len(started))
        return len(started)

    def _planned(
        self, workflow_id: str, name: str, node: core.Node, token: str, logfile: str, now: float
    ) -> NewWorkflow | None:
        """What to submit for this attempt's child, or None (the attempt failed: no child)."""
        sched = self.scheduler
        tokens = {"workflow-id": workflow_id, "workflow-name": name, "node-name": node.name}
        try:
            plan = expand(child_document(node.current, tokens))
        except DocumentError as exc:
            errors = [e for e in exc.entries if e.severity is Severity.ERROR] or exc.entries
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            reason = ChildError(f"{errors[0].message}{more}" if errors else str(exc))
            sched._not_started(workflow_id, node.name, token, logfile, "invalid child", reason)
            return None
        except Exception as exc:  # whatever its stored configuration holds: this node's fault
            sched._not_started(workflow_id, node.name, token, logfile, "cannot make its child", exc)
            return None
        link = functools.partial(
            self._link, parent_id=workflow_id, node=node.name, token=token, at=now
        )
        return NewWorkflow(
            nodes=list(plan.nodes),
            edges=list(plan.edges),
            name=f"{name}/{node.name}",
            metadata={**plan.metadata, "parent": {"workflow": workflow_id, "node": node.name}},
            actor="engine",
            at=now,
            idempotency_key=f"child:{workflow_id}:{token}",
            expires_at=None if plan.ttl is None else now + plan.ttl,
            within=link,
        )

    def _submit_group(self, group: list[NewWorkflow]) -> list[tuple[str, NewWorkflow]]:
        if len(group) == 1:
            return self._submit_one(group[0])
        try:
            return list(zip(self.store.submit_small(group), group, strict=True))
        except ChildNotLinked:  # one attempt was stopped meanwhile: the others one by one
            return [c for item in group for c in self._submit_one(item)]

    def _submit_one(self, item: NewWorkflow) -> list[tuple[str, NewWorkflow]]:
        try:
            child_id = self.store.submit(
                item.nodes,
                item.edges,
                name=item.name,
                metadata=item.metadata,
                actor=item.actor,
                at=item.at,
                idempotency_key=item.idempotency_key,
                expires_at=item.expires_at,
                within=item.within,
            )
        except ChildNotLinked:
            log.info("%s stopped before its child started", item.name)
            return []
        return [(child_id, item)]

    def _link(
        self, conn: Any, child_id: str, *, parent_id: str, node: str, token: str, at: float
    ) -> None:
        link_child(
            conn,
            parent_id=parent_id,
            node=node,
            token=token,
            owner=self.scheduler.owner,
            child_id=child_id,
            at=at,
        )

    # -- following --------------------------------------------------------------------
    def follow(self, now: float) -> bool:
        """Act on every link that needs it; returns whether anything happened."""
        wanted = self.scheduler.settings.workflows
        rows = self.store.to_follow(wanted)
        if not rows:
            return False
        followed = {r.link.child_id for r in rows if r.latest and r.node_status in FOLLOWING}
        acted = False
        for row in rows:
            link = row.link
            try:
                if row.latest and row.node_status in FOLLOWING:
                    acted |= self._follow(row, now)
                elif link.child_id not in followed and link.counts.get(Status.RUNNING):
                    acted |= self._stop_child(row, now)
            except Exception as exc:
                self.scheduler._trouble(link.parent_id, exc)
        return acted

    def _follow(self, row: FollowRow, now: float) -> bool:
        link = row.link
        key = (link.parent_id, link.token)
        if link.result is None:  # live: the parent node runs while the child does
            gone = link.archived or (link.expires_at is not None and link.expires_at <= now)
            if link.status in ("succeeded", "failed") or gone:
                if key in self._reported:
                    return False
                self._reported.add(key)
                ok = link.status == "succeeded" and not gone
                self.scheduler.results.put(
                    JobResult(
                        workflow_id=link.parent_id,
                        node=link.node,
                        token=f"{link.parent_id}/{link.token}",
                        ok=ok,
                        exit_code=None,
                        error=None if ok else f"child workflow {link.child_id} {why(link, now)}",
                        started_at=link.created_at,
                        ended_at=now,
                    )
                )
                return True
            return self._tell(row, now)
        if row.node_status in core.REOPENABLE and link.status != row.node_status.value:
            return self._reopen(row, now)
        return False

    def _tell(self, row: FollowRow, now: float) -> bool:
        """A `child-status` event on the parent when its child starts or stops holding."""
        link = row.link
        key = (link.parent_id, link.token)
        before = self._told.get(key, "running")
        if link.status == before:
            return False
        self._told[key] = link.status
        event = core.Event(  # no status change of the node: it runs on
            "child-status",
            link.node,
            at=now,
            why=f"child {link.child_id} is {link.status}",
            payload={"token": link.token, "child": link.child_id, "status": link.status},
        )

        def decide(view: core.GraphView) -> Outcome:
            out = Outcome(action="child-status", actor="engine", at=now)
            if view.node(link.node).live_token == link.token:
                out.events.append(event)
            return out

        self.store.transact(link.parent_id, decide)
        return True

    def _reopen(self, row: FollowRow, now: float) -> bool:
        link = row.link
        lease = Lease(CHILD_OWNER, FOREVER)

        def decide(view: core.GraphView) -> Outcome:
            assert isinstance(view, StoreView)
            lease.tokens.clear()
            node = view.node(link.node)
            last = node.attempt
            if last is None or last.token != link.token:
                return Outcome(action="reopen", actor="engine", at=now)  # moved on meanwhile
            why = f"child {link.child_id} is {link.status} again"
            out = core.reopen(view, link.node, link.child_id, at=now, why=why)
            new = out.nodes.get(link.node)
            if new is not None and new.live_token is not None:
                lease.tokens.append(new.live_token)
                token = new.live_token
                insert_link(view.conn, link.parent_id, link.node, token, link.child_id, now)
            return out

        applied = self.store.transact(link.parent_id, decide, lease=lease)
        if applied.outcome is not None and applied.outcome.nodes:
            self.scheduler.apply(link.parent_id, applied.outcome)
            log.info("%s/%s follows child %s again", link.parent_id, link.node, link.child_id)
            return True
        return False

    def _stop_child(self, row: FollowRow, now: float) -> bool:
        """The parent attempt was stopped: cancel the child's running nodes, once."""
        link = row.link
        key = (link.parent_id, link.token)
        if key in self._stopped:
            return False
        self._stopped.add(key)

        def decide(view: core.GraphView) -> Outcome:
            assert isinstance(view, StoreView)
            rows = self.store.nodes_in(view.conn, link.child_id, statuses=["running"])
            running = sorted(r.name for r in rows)
            out = (
                core.cancel(view, running, at=now, actor="engine")
                if running
                else Outcome(action="stop-child", actor="engine", at=now)
            )
            out.events.append(
                core.Event(
                    "parent-stopped",
                    None,
                    actor="engine",
                    at=now,
                    why=f"{link.parent_id}/{link.node} no longer follows this workflow",
                    payload={"parent": link.parent_id, "node": link.node, "canceled": len(running)},
                )
            )
            return out

        applied = self.store.transact(
            link.child_id, decide, idempotency_key=f"stop-child:{link.parent_id}:{link.token}"
        )
        if applied.outcome is not None:
            self.scheduler.apply(link.child_id, applied.outcome)
        return not applied.replayed


def why(link: ChildRow, now: float) -> str:
    """Why a followed child ends its parent attempt with a failure."""
    if link.status == "failed":
        return "failed"
    if link.archived:
        return "was archived"
    return "expired" if link.expires_at is not None and link.expires_at <= now else link.status


#: Parent node statuses that follow their child: running (live attempt) and finished ones
#: that a change inside the child may reopen.
FOLLOWING = frozenset({Status.RUNNING, *core.REOPENABLE})
