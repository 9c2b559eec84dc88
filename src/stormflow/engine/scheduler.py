"""The scheduler: runs ready nodes, leases their attempts, dispatches them, applies results.

Everything it decides goes through the store's one write path (`Store.transact`
with a core function), so a crash at any point loses nothing: the database holds
every attempt, lease and result. The loop, one thread:

1. results from the executor -> `core.succeed` / `core.fail` (idempotent by token);
2. nodes that may have become runnable -> `core.run_ready` (one transaction per workflow);
3. free executor slots -> claim pending attempts (lease + named limits) -> executor;
4. now and then: renew our leases, turn expired leases into lost attempts, stop
   attempts that a person stopped from another process, and rescan for runnable
   nodes (actions made through the API or CLI by other processes).

Finding ready nodes is incremental: an outcome names the nodes that may have
become runnable (`Outcome.check`: its direct downstream, reopened nodes), and only
those are examined.
"""

from __future__ import annotations

import functools
import heapq
import json
import logging
import os
import queue
import shutil
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from stormflow import core
from stormflow.core import Outcome, Status
from stormflow.engine import liveness, orphans
from stormflow.engine.executor import STOPPED, Executor, ExecutorError, Orphan
from stormflow.engine.jobs import JobResult
from stormflow.engine.local import LocalExecutor
from stormflow.engine.render import log_path, render_job
from stormflow.engine.supervised import SupervisedExecutor
from stormflow.store import Lease, Store, StoreView
from stormflow.store.view import Adjacency

log = logging.getLogger(__name__)


#: A finished node's children (or candidates) are read with the workflow's lock when there
#: are at most this many: a chain's next task, not a fan-out's 500 (read as a batch).
PREFETCH_CHILDREN = 4

#: How long an executor thread waits for the loop's lock to apply its result inline before
#: queueing it: about one transaction (another thread's result), not a whole busy step.
INLINE_WAIT = 0.005

#: Seconds between looks for dead schedulers whose claims this one takes over at once.
TAKEOVER_EVERY = 1.0


def new_owner() -> str:
    """A lease owner id: host, pid and start time (so a restart on this host spots its dead
    self, and a reused pid is not mistaken for it), and a random tag."""
    return f"{socket.gethostname()}:{liveness.identity()}:{uuid.uuid4().hex[:6]}"


def owner_is_dead_here(owner: str) -> bool:
    """True when the owner ran on this host and its process is gone (exited, a zombie, or its
    pid now names another process)."""
    return liveness.owner_dead_here(owner)


def _no_summary(_outcome: Outcome) -> dict[str, object]:
    return {}  # the scheduler reads the outcome itself: skip building the default answer


def uses_status(node: core.Node) -> bool:
    """Whether the node's configuration mentions ${status} (computing it reads the workflow)."""
    return "${status}" in json.dumps(node.current)


def job_token(workflow_id: str, token: str) -> str:
    """Executors see workflow-qualified tokens: core tokens are unique within a workflow."""
    return f"{workflow_id}/{token}"


def split_job_token(job: str) -> tuple[str, str]:
    workflow_id, _, token = job.partition("/")
    return workflow_id, token


def attempt_token(job: str) -> str:
    return split_job_token(job)[1]


@dataclass
class Settings:
    data_dir: Path
    lease_seconds: float = 30.0
    heartbeat_every: float = 5.0
    housekeeping_every: float = 0.5
    statistics_every: float = 5.0  # PostgreSQL planner statistics (Store.refresh_statistics)
    idle_wait: float = 0.05
    claim_batch: int = 64
    workflows: set[str] | None = None  # only these (None: every workflow in the store)
    # Apply a result in the executor thread that reports it, when the loop is not busy: no
    # hand-over to the loop's thread and back for the job it makes ready (see `deliver`).
    inline_results: bool = True
    # Local commands run under the data directory's supervisor (supervisor.py), so that a
    # restarted scheduler adopts them; False: in this process (they die with a kill -9 of it).
    supervised: bool = field(default_factory=lambda: os.environ.get("STORM_SUPERVISED") != "0")
    # How long commands run on without a scheduler (it died; none adopted them yet) before
    # they are killed: the supervisor's orphans here, Celery workers' remote ones.
    orphan_grace: float = field(default_factory=lambda: _env_seconds("STORM_ORPHAN_GRACE", 600.0))


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value >= 0 else default


@dataclass
class Stats:
    dispatched: int = 0
    results: int = 0
    stale: int = 0
    lost: int = 0
    dispatch_latency: list[float] = field(default_factory=list)


class Scheduler:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        executor: Executor | None = None,
        *,
        slots: int | None = None,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.owner = owner or new_owner()
        self.clock = clock
        self.results: queue.Queue[JobResult] = queue.Queue()
        # The loop's state below: held by the loop for a step, or by an executor thread
        # applying a result inline (reentrant: `apply` may come from within a step's hooks).
        self._lock = threading.RLock()
        self._run_dir = settings.data_dir / "run"
        if executor is None and settings.supervised:
            executor = SupervisedExecutor(
                self.deliver, settings.data_dir, slots=slots, orphan_grace=settings.orphan_grace
            )
        elif executor is None:
            pid_dir = orphans.claim_dir(self._run_dir, self.owner)
            executor = LocalExecutor(self.deliver, slots=slots, pid_dir=pid_dir)
        self.executor: Executor = executor
        self.stats = Stats()
        self._check: defaultdict[str, set[str]] = defaultdict(set)
        self._kinds: dict[str, dict[str, str]] = {}
        self._names: dict[str, str] = {}
        self._expires: dict[str, float | None] = {}  # workflow -> expires_at (time to live)
        self._ready_at: dict[tuple[str, str], float] = {}  # (workflow, token) -> ready since
        # Attempts this scheduler created, per workflow (heaps of (not before, node, token)),
        # claimed when due by the workflow's next transaction: no polling on the hot path.
        # Others' attempts (a dead scheduler's, another process's) are found by polling.
        self._due: defaultdict[str, list[tuple[float, str, str]]] = defaultdict(list)
        self._next_poll = 0.0
        self._next_heartbeat = 0.0
        self._next_housekeeping = 0.0
        self._next_statistics = 0.0
        self._next_takeover = 0.0
        self._stop = threading.Event()
        self._shutting_down: set[str] = set()  # job tokens stopped by close()
        self._recover_dead_owners()
        self.rescan()

    # -- the loop ------------------------------------------------------------------
    def step(self, wait: float | None = None) -> bool:
        """One pass of the loop; returns whether anything happened."""
        first = self._next_result(wait)  # waits without the lock: results may come inline
        with self._lock:
            busy = self._apply_results(first)
            busy |= self._run_ready()
            busy |= self._dispatch()
            now = self.clock()
            if now >= self._next_housekeeping:
                self._next_housekeeping = now + self.settings.housekeeping_every
                busy |= self._housekeeping(now)
            return busy

    def deliver(self, result: JobResult) -> None:
        """The executor's result callback (any thread): applied at once in the calling thread
        if the loop's lock comes within INLINE_WAIT (another thread's result being applied),
        else queued for the loop (in a step, or shutting down).

        Inline, the job that the result makes ready is submitted from the executor thread that
        just finished, which the local executor lets run it next: a chain of tasks needs no
        thread hand-over per task. A failure applying it inline queues it for the loop, which
        records it or fails as it would have (a result that was recorded after all comes back
        as a stale duplicate and changes nothing).
        """
        if self.settings.inline_results and self._lock.acquire(timeout=INLINE_WAIT):
            try:
                if not self._handed_back(result):
                    self._advance(result.workflow_id, [result])
                return
            except Exception:
                log.exception("applying the result of %s inline failed; queued", result.token)
            finally:
                self._lock.release()
        self.results.put(result)

    def run_until(
        self, done: Callable[[], bool], on_tick: Callable[[], None] | None = None
    ) -> None:
        """Loop until `done()` (checked when idle) or `stop()`."""
        while not self._stop.is_set():
            busy = self.step(wait=None if self._has_pending_work() else self.settings.idle_wait)
            if on_tick is not None:
                with self._lock:
                    on_tick()
            if not busy and done():
                return

    def serve_forever(self) -> None:
        self.run_until(lambda: False)

    def stop(self) -> None:
        self._stop.set()

    def close(self, grace: float = 5.0) -> None:
        """Graceful shutdown: stop our processes and hand our leases back at once.

        An attempt stopped by the shutdown did not fail: its "stopped" result is not
        recorded (that would use up a retry, or fail the node); its lease is released,
        so the next scheduler records it as lost and runs it again at once.
        """
        with self._lock:  # no result is applied inline from here on: they queue
            self._shutting_down.update(self.executor.running())
            self.executor.close(grace)
            while not self.results.empty():  # record what finished while closing
                self._apply_results(self._next_result(None))
            self.store.release_owner(self.owner)
        shutil.rmtree(orphans.owner_dir(self._run_dir, self.owner), ignore_errors=True)

    # -- results ---------------------------------------------------------------------
    def _has_pending_work(self) -> bool:
        return bool(self._check) or not self.results.empty()

    def _next_result(self, wait: float | None) -> JobResult | None:
        try:
            return self.results.get(timeout=wait) if wait else self.results.get_nowait()
        except queue.Empty:
            return None

    def _handed_back(self, result: JobResult) -> bool:
        """A stop by close(): not a failure of the task, not recorded (see close)."""
        return result.error == STOPPED and result.token in self._shutting_down

    def _apply_results(self, first: JobResult | None) -> bool:
        if first is None:
            return False
        by_workflow: defaultdict[str, list[JobResult]] = defaultdict(list)
        for result in [first, *self._more_results()]:
            if not self._handed_back(result):
                by_workflow[result.workflow_id].append(result)
        pending = list(by_workflow.items())
        for i, (workflow_id, results) in enumerate(pending):
            try:
                self._advance(workflow_id, results)
            except Exception:
                for _, unapplied in pending[i:]:  # back to the queue: nothing is dropped
                    for result in unapplied:
                        self.results.put(result)
                raise
        return True

    def _more_results(self) -> Iterator[JobResult]:
        while True:
            try:
                yield self.results.get_nowait()
            except queue.Empty:
                return

    def _advance(self, workflow_id: str, results: list[JobResult]) -> int:
        """Apply results, run the nodes they made ready and claim what is due, as far as slots
        allow: one transaction for the workflow. Returns how many jobs it dispatched.

        No idempotency key: a duplicate result is not the live attempt's any more, so
        the core records it as a stale result and changes nothing (spec: Procedural).
        """
        candidates = self._check.pop(workflow_id, set())
        now = self.clock()
        free = self.executor.free_slots()
        due = self._pop_due(workflow_id, now, free)
        expired = self._expired(workflow_id, now)
        if expired:  # record results; run and claim nothing more
            candidates, free, due = set(), 0, []
            self._due.pop(workflow_id, None)
        if not (results or candidates or due):
            return 0
        lease = Lease(self.owner, now + self.settings.lease_seconds)
        claimed: list[tuple[str, str]] = []  # (node, log file) started in this transaction
        limited: list[tuple[str, str]] = []  # due, but holding named limits: the claim path
        handled: set[str] = set()  # due tokens claimed, gone or limited (others: next time)

        def claim(overlay: core.Overlay, total: Outcome, name: str, token: str) -> None:
            logfile = str(log_path(self.settings.data_dir, workflow_id, token))
            out = core.started(overlay, name, token, at=now, worker=self.owner, log=logfile)
            overlay.lay(out)
            total.absorb(out)
            lease.tokens.append(token)
            claimed.append((name, logfile))

        def decide(view: core.GraphView) -> Outcome:
            assert isinstance(view, StoreView)
            lease.tokens.clear()
            claimed.clear()
            limited.clear()
            handled.clear()
            # The nodes read whole for sure, in one query (a due node's siblings are not
            # loaded with it, as they would be through its edge batch)
            view.prefetch([*(r.node for r in results), *(name for name, _ in due)])
            overlay = core.Overlay(view)
            total = Outcome(action="advance", actor="engine", at=now)
            for r in results:
                token = attempt_token(r.token)
                if r.ok:
                    out = core.succeed(overlay, r.node, token, at=r.ended_at, exit_code=r.exit_code)
                else:
                    out = core.fail(
                        overlay,
                        r.node,
                        token,
                        at=r.ended_at,
                        exit_code=r.exit_code,
                        error=r.error,
                        lost=r.lost,  # a remote worker vanished: retried at once (celery executor)
                    )
                overlay.lay(out)
                total.absorb(out)
            if not expired:  # its ttl ran out: nothing more runs
                ready = core.run_ready(overlay, sorted(candidates | total.check), at=now)
                overlay.lay(ready)
                total.absorb(ready)
            total.check = set()  # examined just now
            # Claim what is due in the same transaction: no transaction of its own per
            # dispatch. Nodes holding named limits take the `claim` path, which counts
            # their usage.
            for name, attempt in list(total.start):
                if len(claimed) >= free or attempt.not_before > now:
                    continue
                if overlay.node(name).current.get("limits"):
                    continue
                claim(overlay, total, name, attempt.token)
            # Attempts made earlier, still ours to claim: live and leased to no one (the
            # workflow lock keeps it so until commit).
            if due and len(claimed) < free:
                unleased = view.unleased([token for _, token in due])
                for name, token in due:
                    if len(claimed) >= free:
                        break
                    handled.add(token)
                    if token not in unleased or overlay.node(name).live_token != token:
                        continue  # gone (stopped, retried) or claimed by another scheduler
                    if overlay.node(name).current.get("limits"):
                        limited.append((name, token))
                    else:
                        claim(overlay, total, name, token)
            return total

        def wanted(adjacency: Adjacency) -> Iterator[str]:
            """What decide reads whole: results, what they may run (a few), what is due."""
            for r in results:
                yield r.node
                if r.ok:
                    children = adjacency.down.get(r.node, ())
                    if len(children) <= PREFETCH_CHILDREN:
                        yield from children
            if len(candidates) <= PREFETCH_CHILDREN:
                yield from candidates
            for name, _ in due:
                yield name

        try:
            applied = self.store.transact(
                workflow_id, decide, lease=lease, response=_no_summary, prefetch=wanted
            )
        except Exception:
            self._check[workflow_id].update(candidates)  # examine them again next time
            for name, token in due:
                heapq.heappush(self._due[workflow_id], (now, name, token))
            raise
        self.stats.results += len(results)
        for name, token in due:
            if token not in handled:  # no slot left in this transaction: next time
                heapq.heappush(self._due[workflow_id], (now, name, token))
        if applied.outcome is None:
            return 0
        self.stats.stale += sum(e.type == "stale-result" for e in applied.outcome.events)
        self._after(workflow_id, applied.outcome, leased=set(lease.tokens))
        sent = 0
        for name, logfile in claimed:
            node = applied.outcome.nodes[name]
            token = node.attempts[-1].token
            sent += self._submit(workflow_id, node, token, logfile)
        for name, token in limited:
            sent += self._send(workflow_id, name, token, now)
        return sent

    def _pop_due(self, workflow_id: str, now: float, count: int) -> list[tuple[str, str]]:
        """Up to `count` of this workflow's attempts that are due by `now`, earliest first."""
        heap = self._due.get(workflow_id)
        popped: list[tuple[str, str]] = []
        while heap and heap[0][0] <= now and len(popped) < count:
            _, name, token = heapq.heappop(heap)
            popped.append((name, token))
        if heap is not None and not heap:
            del self._due[workflow_id]
        return popped

    def _after(
        self, workflow_id: str, outcome: Outcome, leased: frozenset[str] | set[str] = frozenset()
    ) -> None:
        """Act on an outcome: stop attempts, remember nodes to examine and attempts to send."""
        for _node, token in outcome.stop:
            self.executor.stop(job_token(workflow_id, token))
        if outcome.check:
            self._check[workflow_id].update(outcome.check)
        now = self.clock()
        for name, attempt in outcome.start:
            due = max(now, attempt.not_before)
            self._ready_at[(workflow_id, attempt.token)] = due
            if attempt.token in leased:
                continue  # claimed in the outcome's own transaction
            heapq.heappush(self._due[workflow_id], (attempt.not_before, name, attempt.token))

    def apply(self, workflow_id: str, outcome: Outcome) -> None:
        """Hook for in-process callers that transacted an action themselves (e.g. `storm run`)."""
        self._after(workflow_id, outcome)

    # -- runs ------------------------------------------------------------------------
    def _run_ready(self) -> bool:
        if not self._check:
            return False
        for workflow_id in list(self._check):
            self._advance(workflow_id, [])  # runs them, and claims as slots allow
        return True

    def rescan(self) -> None:
        """Examine every runnable node of every workflow with work (start, recovery, polling)."""
        for workflow_id in self._workflows_with_work():
            names = self.store.runnable_nodes(workflow_id)
            if names:
                self._check[workflow_id].update(names)

    def _workflows_with_work(self) -> list[str]:
        ids = self.store.workflows_with_work(self.clock())
        wanted = self.settings.workflows
        return [w for w in ids if wanted is None or w in wanted]

    # -- dispatch --------------------------------------------------------------------
    def _dispatch(self) -> bool:
        free = self.executor.free_slots()
        if free <= 0:
            return False
        now = self.clock()
        wanted = self.settings.workflows
        sent = 0
        # ours first, earliest due first: one claiming transaction per workflow
        heads = sorted((heap[0][0], wf) for wf, heap in self._due.items() if heap)
        for head, workflow_id in heads:
            if head > now or self.executor.free_slots() <= 0:
                break
            sent += self._advance(workflow_id, [])
        free = self.executor.free_slots()
        if free <= 0 or now < self._next_poll:
            return sent > 0
        self._next_poll = now + self.settings.housekeeping_every
        polled = 0
        # One workflow (`storm run`): asked of the database, not filtered from everybody's.
        only = next(iter(wanted)) if wanted is not None and len(wanted) == 1 else None
        for item in self.store.pending_attempts(
            now, limit=max(free * 2, self.settings.claim_batch), workflow_id=only
        ):
            if polled >= free:
                break
            if wanted is not None and item.workflow_id not in wanted:
                continue
            polled += self._send(item.workflow_id, item.node, item.token, now)
        return sent + polled > 0

    def _send(self, workflow_id: str, name: str, token: str, now: float) -> bool:
        logfile = str(log_path(self.settings.data_dir, workflow_id, token))
        node = self.store.claim(
            workflow_id,
            name,
            token,
            owner=self.owner,
            now=now,
            lease_seconds=self.settings.lease_seconds,
            worker=self.owner,
            log=logfile,
        )
        if node is None:
            return False
        return self._submit(workflow_id, node, token, logfile)

    def _submit(self, workflow_id: str, node: core.Node, token: str, logfile: str) -> bool:
        """Hand a claimed attempt to the executor."""
        name = node.name
        job = render_job(
            data_dir=self.settings.data_dir,
            workflow_id=workflow_id,
            workflow_name=self._workflow_name(workflow_id),
            kind=self._kind(workflow_id, name),
            node=node,
            token=job_token(workflow_id, token),
            status=self._status_for_job(workflow_id) if uses_status(node) else "running",
            log=logfile,
        )
        try:
            self.executor.submit(job)
        except ExecutorError as exc:  # the slot went away: let the lease lapse into a retry
            log.warning("could not dispatch %s/%s: %s", workflow_id, name, exc)
            return False
        self.stats.dispatched += 1
        ready = self._ready_at.pop((workflow_id, token), None)
        if ready is not None:
            self.stats.dispatch_latency.append(max(0.0, self.clock() - ready))
        return True

    def _kind(self, workflow_id: str, name: str) -> str:
        kinds = self._kinds.get(workflow_id)
        if kinds is None or name not in kinds:
            kinds = {row.name: row.kind for row in self.store.nodes(workflow_id)}
            self._kinds[workflow_id] = kinds
        return kinds.get(name, "task")

    def _workflow_name(self, workflow_id: str) -> str:
        name = self._names.get(workflow_id)
        if name is None:
            self._remember_workflow(workflow_id)
            name = self._names[workflow_id]
        return name

    def _expired(self, workflow_id: str, now: float) -> bool:
        if workflow_id not in self._expires:
            self._remember_workflow(workflow_id)
        expires = self._expires[workflow_id]
        return expires is not None and expires <= now

    def _remember_workflow(self, workflow_id: str) -> None:
        row = self.store.workflow(workflow_id)  # name and expiry never change after submit
        self._names[workflow_id] = row.name
        self._expires[workflow_id] = row.expires_at

    def _expire(self, workflow_id: str, now: float) -> None:
        """The workflow's time to live ran out: cancel its running nodes (stopping their
        attempts), in one transaction with an `expire` event (spec: Workflow status)."""
        expires = self._expires.get(workflow_id)

        def decide(view: core.GraphView) -> Outcome:
            running = [r.name for r in self.store.nodes(workflow_id, statuses=["running"])]
            out = (
                core.cancel(view, running, at=now, actor="engine")
                if running
                else Outcome(action="expire", actor="engine", at=now)
            )
            out.events.append(
                core.Event(
                    "expire",
                    None,
                    actor="engine",
                    at=now,
                    why="its time to live ran out",
                    payload={"expires_at": expires, "canceled": len(running)},
                )
            )
            return out

        applied = self.store.transact(workflow_id, decide)
        if applied.outcome is not None:
            self._after(workflow_id, applied.outcome)

    def _status_for_job(self, workflow_id: str) -> str:
        """${status} for a node about to run: the workflow's status as if this node had finished."""
        counts = dict(self.store.counts(workflow_id))
        counts[Status.RUNNING] = counts.get(Status.RUNNING, 0) - 1
        counts[Status.SUCCEEDED] = counts.get(Status.SUCCEEDED, 0) + 1
        return core.derive_status(counts, 0).value

    # -- housekeeping ----------------------------------------------------------------
    def _housekeeping(self, now: float) -> bool:
        busy = False
        if now >= self._next_statistics:
            self._next_statistics = now + self.settings.statistics_every
            self.store.refresh_statistics()
        running = [split_job_token(t) for t in self.executor.running()]
        if running and now >= self._next_heartbeat:
            self._next_heartbeat = now + self.settings.heartbeat_every
            tokens = [t for _, t in running]
            self.store.renew(self.owner, tokens, now + self.settings.lease_seconds)
        if running:
            for workflow_id, token in self.store.dead_tokens(self.owner, running):
                self.executor.stop(job_token(workflow_id, token))  # stopped from elsewhere
                busy = True
        wanted = self.settings.workflows
        for workflow_id in self.store.expired_running(now):
            if wanted is None or workflow_id in wanted:
                self._remember_workflow(workflow_id)
                self._expire(workflow_id, now)
                busy = True
        if now >= self._next_takeover:
            # Another scheduler of this host died (kill -9, OOM): its claims are ours now,
            # not after its leases run out.
            self._next_takeover = now + TAKEOVER_EVERY
            busy |= self._recover_dead_owners() > 0
        for workflow_id, name, token, owner, logfile in self.store.expired_leases(
            now, workflow_ids=wanted
        ):
            busy = True
            if owner != self.owner and self._adopt(owner, [(workflow_id, name, token, logfile)]):
                continue  # still running (or ended) under a supervisor or worker: ours now
            self.stats.lost += 1
            lost = functools.partial(
                core.fail, name=name, token=token, at=now, lost=True, error="worker lost"
            )
            key = f"lost:{workflow_id}:{token}"
            applied = self.store.transact(workflow_id, lost, idempotency_key=key)
            if applied.outcome is not None:
                self._after(workflow_id, applied.outcome)
        self.rescan()
        return busy

    def _recover_dead_owners(self) -> int:
        """Take over the claims of a dead scheduler (on this host, or whose Celery heartbeat
        lapsed) now, not after its leases expire; returns how many attempts it held.

        Attempts still running under the supervisor or on a worker, or that ended while nobody
        watched, are adopted (`_adopt`). The others are stopped first (in-process commands of
        an older scheduler through its pid files, remote ones through `abandon`), so a lost
        attempt never runs beside its retry, and released: recorded lost and retried at once.
        """
        wanted = self.settings.workflows  # `storm run`/`resume`: its own workflow's only
        prefixes = None if wanted is None else {job_token(w, "") for w in wanted}
        killed = orphans.reap_dead_owners(self._run_dir, owner_is_dead_here, prefixes)
        if killed:
            log.info("killed %d orphaned command(s) of dead schedulers", killed)
        recovered = 0
        for owner in self.store.lease_owners():
            if owner == self.owner or not (owner_is_dead_here(owner) or self._gone(owner)):
                continue
            live = [
                item
                for item in self.store.live_attempts(owner)
                if wanted is None or item[0] in wanted
            ]
            if not live:
                continue
            log.info("recovering attempts of dead scheduler %s", owner)
            adopted = self._adopt(owner, live)
            rest = [(wf, token) for wf, _node, token, _log in live if (wf, token) not in adopted]
            if rest:  # not running anywhere we can watch: stopped, then retried at once
                self.executor.abandon([job_token(wf, token) for wf, token in rest])
                self.store.release_owner(owner, wanted)
            recovered += len(live)
        return recovered

    def _adopt(
        self, owner: str, live: list[tuple[str, str, str, str | None]]
    ) -> set[tuple[str, str]]:
        """Take over a dead scheduler's attempts that still run (or ended unseen) where our
        executor can watch them: their leases become ours and their results come to us, so
        nothing that was fine runs twice. Returns the (workflow, token) pairs taken."""
        adopt = getattr(self.executor, "adopt", None)
        if adopt is None or not live:
            return set()
        offered = [Orphan(job_token(wf, token), wf, node, lg) for wf, node, token, lg in live]
        try:
            running, finished = adopt(owner, offered)
        except Exception:
            log.exception("adopting the attempts of %s failed", owner)
            return set()
        # Stopped when its scheduler shut down (handed back) or by the supervisor (nobody came
        # within the grace): not a failure of the task, so not adopted, but lost and retried.
        finished = [r for r in finished if r.error != STOPPED]
        wanted = [split_job_token(t) for t in running]
        wanted += [(r.workflow_id, attempt_token(r.token)) for r in finished]
        now = self.clock()
        moved = set(
            self.store.adopt_leases(owner, self.owner, wanted, now + self.settings.lease_seconds)
        )
        missed = [job_token(wf, token) for wf, token in wanted if (wf, token) not in moved]
        forget = getattr(self.executor, "forget", None)
        if missed and callable(forget):
            forget(missed)
        for result in finished:
            if (result.workflow_id, attempt_token(result.token)) in moved:
                self.results.put(result)  # ended while nobody watched: recorded as it ended
        if moved:
            log.info(
                "adopted %d attempt(s) of %s (%d still running)",
                len(moved), owner, len(moved) - len(finished),
            )  # fmt: skip
        return moved

    def _gone(self, owner: str) -> bool:
        """Whether the executor knows that scheduler's heartbeat lapsed (Celery: its owner
        key in Redis), wherever it ran."""
        gone = getattr(self.executor, "owner_gone", None)
        return bool(gone(owner)) if callable(gone) else False


def run_workflows(scheduler: Scheduler, workflow_ids: Iterable[str]) -> None:
    """Run the loop until none of these workflows can make progress."""
    ids = list(workflow_ids)

    def done() -> bool:
        return all(scheduler.store.status(w) is not core.WorkflowStatus.RUNNING for w in ids)

    scheduler.run_until(done)
