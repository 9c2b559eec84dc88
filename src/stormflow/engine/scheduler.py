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
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from stormflow import core
from stormflow.core import Outcome, Status
from stormflow.engine import liveness, notice, orphans
from stormflow.engine.executor import STOPPED, Executor, ExecutorError, Orphan
from stormflow.engine.jobs import JobResult
from stormflow.engine.local import LocalExecutor
from stormflow.engine.render import log_path, render_job, workflow_dir
from stormflow.engine.subworkflows import KIND as SUBWORKFLOW
from stormflow.engine.subworkflows import Subworkflows
from stormflow.engine.supervised import SupervisedExecutor
from stormflow.engine.waits import Waits
from stormflow.kinds import bound_host, get_kind
from stormflow.kinds.email import EmailSender
from stormflow.metrics import Histogram
from stormflow.paths import private_dir
from stormflow.store import Lease, Store, StoreView
from stormflow.store.busy import is_busy
from stormflow.store.children import CHILD_OWNER
from stormflow.store.db import is_timeout
from stormflow.store.persist import takes_limits
from stormflow.store.view import Adjacency
from stormflow.store.waits import WAITING_OWNER
from stormflow.uploads.services import upload_services

log = logging.getLogger(__name__)


#: A finished node's children (or candidates) are read with the workflow's lock when there
#: are at most this many: a chain's next task, not a fan-out's 500 (read as a batch).
PREFETCH_CHILDREN = 4

#: Nodes examined (and run) per transaction at most: a fan-out of 200,000 ready nodes runs
#: in batches, each a short transaction, so other workflows and requests get the store too.
RUN_BATCH = 250

#: A batched submit still unfinished after this long was abandoned (its process died).
UNFINISHED_SUBMIT_AGE = 3600.0

#: How long an executor thread waits for the loop's lock to apply its result inline before
#: queueing it: about one transaction (another thread's result), not a whole busy step.
INLINE_WAIT = 0.005

#: Seconds between looks for dead schedulers whose claims this one takes over at once.
TAKEOVER_EVERY = 1.0

#: Put on the results queue to end the loop's idle wait (`Scheduler.wake`); never applied.
WAKE = JobResult("", "", "", ok=True, exit_code=None, error=None, started_at=0.0, ended_at=0.0)


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
    # PostgreSQL: every statement of the scheduler's transactions is cancelled after this
    # long (logged, retried on the next turn): no query can hold the loop for good.
    statement_timeout: float = 30.0
    # /health reports the loop as stuck when it has not turned for this long.
    stuck_after: float = 60.0
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


#: Dispatch latencies kept for percentiles: a long-running scheduler keeps no more.
DISPATCH_SAMPLES = 4096


@dataclass
class Stats:
    dispatched: int = 0
    results: int = 0
    stale: int = 0
    lost: int = 0
    # the latest DISPATCH_SAMPLES (the bench's percentiles; /metrics uses the histogram)
    dispatch_latency: deque[float] = field(default_factory=lambda: deque(maxlen=DISPATCH_SAMPLES))
    # Failures the loop survived: unexpected errors (logged with their traceback) and busy
    # store errors (logged, retried); the last one as one line, for /health.
    errors: int = 0
    busy: int = 0
    last_error: str | None = None
    last_error_at: float | None = None

    # the same figures as /metrics reports them (bounded, unlike the list above)
    dispatch_seconds: Histogram = field(default_factory=Histogram)
    transaction_seconds: Histogram = field(default_factory=Histogram)

    def as_dict(self) -> dict[str, object]:
        return {
            "dispatched": self.dispatched,
            "results": self.results,
            "stale": self.stale,
            "lost": self.lost,
            "errors": self.errors,
            "busy": self.busy,
            "last_error": self.last_error,
            "dispatch_seconds": self.dispatch_seconds.as_dict(),
            "transaction_seconds": self.transaction_seconds.as_dict(),
        }


#: Backoff after a failed step or workflow transaction: doubled per consecutive failure.
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 30.0


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
        root = private_dir(settings.data_dir)  # attempts' logs and pids live below
        private_dir(root / "logs")
        self._run_dir = private_dir(root / "run")
        sender = EmailSender.from_env(data_dir=settings.data_dir)
        services = upload_services(store, settings.data_dir)
        if executor is None and settings.supervised:
            executor = SupervisedExecutor(
                self.deliver,
                settings.data_dir,
                slots=slots,
                orphan_grace=settings.orphan_grace,
                email_sender=sender,
                services=services,
            )
        elif executor is None:
            pid_dir = orphans.claim_dir(self._run_dir, self.owner)
            executor = LocalExecutor(
                self.deliver, slots=slots, pid_dir=pid_dir, email_sender=sender, services=services
            )
        self.executor: Executor = executor
        # runs="wait" kinds (external jobs): handed over after their claim, waited for
        # without a slot; results come back through `_told` from the waits' threads
        self.waits = Waits(store, settings.data_dir, self._told, workflows=settings.workflows)
        self.stats = Stats()
        self._check: defaultdict[str, set[str]] = defaultdict(set)
        self._names: dict[str, str] = {}
        self._expires: dict[str, float | None] = {}  # workflow -> expires_at (time to live)
        self._ready_at: dict[tuple[str, str], float] = {}  # (workflow, token) -> ready since
        # Attempts this scheduler created, per workflow (heaps of (not before, node, token)),
        # claimed when due by the workflow's next transaction: no polling on the hot path.
        # Others' attempts (a dead scheduler's, another process's) are found by polling.
        self._due: defaultdict[str, list[tuple[float, str, str]]] = defaultdict(list)
        self._next_poll = 0.0
        # Attempts of nodes bound to a host (uploads): never ours to claim (Leases.claim).
        self._bound: set[tuple[str, str]] = set()
        # workflow -> the last event seq this scheduler examined or wrote itself (rescan)
        self._seen: dict[str, int] = {}
        self._next_heartbeat = 0.0
        self._next_housekeeping = 0.0
        self._next_statistics = 0.0
        self._next_takeover = 0.0
        self._stop = threading.Event()
        self._shutting_down: set[str] = set()  # job tokens stopped by close()
        # A workflow whose transaction failed waits (backoff) while the others go on; its
        # results wait beside it, none dropped. workflow -> (retry at, current delay)
        self._paused: dict[str, tuple[float, float]] = {}
        self._held: defaultdict[str, list[JobResult]] = defaultdict(list)
        self.turned = time.monotonic()  # when the loop last finished a step (see `stuck`)
        self.timeouts = 0  # statements cancelled by the statement timeout, retried
        self.subworkflows = Subworkflows(self)  # `workflow` nodes: children, started and followed
        with self._limited():
            self._recover_dead_owners()
            # a submit killed half way left an invisible partial workflow: gone after a while
            discarded = self.store.discard_unfinished(older_than=UNFINISHED_SUBMIT_AGE)
            if discarded:
                log.warning("discarded %d workflow(s) whose submit never finished", discarded)
            self.rescan()

    def _limited(self) -> AbstractContextManager[None]:
        """The scheduler's statement timeout for this thread's transactions inside."""
        return self.store.statement_timeout(self.settings.statement_timeout)

    @property
    def stuck(self) -> bool:
        """The loop has not turned for `Settings.stuck_after` seconds (a step never ends)."""
        return time.monotonic() - self.turned > self.settings.stuck_after

    # -- the loop ------------------------------------------------------------------
    def step(self, wait: float | None = None) -> bool:
        """One pass of the loop; returns whether anything happened."""
        first = self._next_result(wait)  # waits without the lock: results may come inline
        with self._lock, self._limited():
            self._resume_paused()
            busy = self._apply_results(first)
            busy |= self._run_ready()
            busy |= self._dispatch()
            now = self.clock()
            if now >= self._next_housekeeping:
                self._next_housekeeping = now + self.settings.housekeeping_every
                busy |= self._housekeeping(now)
        self.turned = time.monotonic()
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
                if self._handed_back(result):
                    return
                with self._limited():
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
        """Loop until `done()` (checked when idle) or `stop()`.

        The loop never ends on an error: an unexpected one is logged with its traceback and
        counted (`stats`, reported by /health), a busy store is logged; either way the loop
        waits (doubling from BACKOFF_FIRST to BACKOFF_MAX while failures repeat) and goes on.
        """
        delay = BACKOFF_FIRST
        while not self._stop.is_set():
            try:
                wait = None if self._has_pending_work() else self.settings.idle_wait
                busy = self.step(wait=wait)
                if on_tick is not None:
                    with self._lock:
                        on_tick()
                if not busy and done():
                    return
            except Exception as exc:
                if is_timeout(exc):
                    # a statement cancelled by the statement timeout (or a lock not granted in
                    # time): what the step was doing was put back; it is retried next turn
                    self.timeouts += 1
                    log.warning("a scheduler statement timed out (retried): %s", exc)
                    self._seen.clear()  # the next rescan examines every workflow with work again
                    self.turned = time.monotonic()
                    self._stop.wait(self.settings.idle_wait)
                    continue
                self._record_error("the scheduler loop", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            delay = BACKOFF_FIRST

    def _record_error(self, where: str, exc: Exception, delay: float) -> None:
        self.stats.last_error = f"{where}: {type(exc).__name__}: {exc}".splitlines()[0][:500]
        self.stats.last_error_at = self.clock()
        if is_busy(exc):
            self.stats.busy += 1
            log.warning("%s: the store is busy (%s); retrying in %.1fs", where, exc, delay)
        else:
            self.stats.errors += 1
            log.error("%s failed; retrying in %.1fs", where, delay, exc_info=exc)

    def _trouble(self, workflow_id: str, exc: Exception) -> None:
        """A transaction of one workflow failed: it waits, the others go on."""
        delay = self._paused.get(workflow_id, (0.0, BACKOFF_FIRST / 2))[1] * 2
        delay = min(delay, BACKOFF_MAX)
        self._paused[workflow_id] = (self.clock() + delay, delay)
        self._record_error(f"workflow {workflow_id}", exc, delay)

    def _is_paused(self, workflow_id: str) -> bool:
        paused = self._paused.get(workflow_id)
        return paused is not None and paused[0] > self.clock()

    def _resume_paused(self) -> None:
        """Workflows whose wait is over get their held results back (their backoff stays
        until a transaction of theirs succeeds)."""
        for workflow_id in [w for w in self._held if not self._is_paused(w)]:
            for result in self._held.pop(workflow_id):
                self.results.put(result)

    def _advance_isolated(self, workflow_id: str, results: list[JobResult]) -> int:
        """`_advance`, with a failure kept to its workflow (see `_trouble`)."""
        if self._is_paused(workflow_id):
            self._held[workflow_id].extend(results)
            return 0
        try:
            sent = self._advance(workflow_id, results)
        except Exception as exc:
            self._held[workflow_id].extend(results)  # nothing is dropped
            self._trouble(workflow_id, exc)
            return 0
        self._paused.pop(workflow_id, None)
        return sent

    def serve_forever(self) -> None:
        self.run_until(lambda: False)

    def stop(self) -> None:
        self._stop.set()

    def close(self, grace: float = 5.0) -> None:
        """Graceful shutdown: stop our processes and hand our leases back at once.

        An attempt stopped by the shutdown did not fail: its "stopped" result is not
        recorded (that would use up a retry, or fail the node); its lease is released,
        so the next scheduler records it as lost and runs it again at once.

        The loop's lock is waited for `grace` seconds at most: a loop stuck in a statement
        holds it, and shutdown must end anyway. Then the processes are stopped and the
        leases handed back without it (results that finished meanwhile are left to the
        next scheduler, which finds their attempts lost and runs them again).
        """
        self.waits.close()
        locked = self._lock.acquire(timeout=max(grace, 0.1))
        if not locked:
            log.warning("the scheduler's loop is stuck: closing without it")
        try:
            with self._limited():
                self._shutting_down.update(self.executor.running())
                self.executor.close(grace)
                while locked and not self.results.empty():  # record what finished meanwhile
                    self._apply_results(self._next_result(None))
                self.store.release_owner(self.owner)
        except Exception as exc:
            if not is_timeout(exc):
                raise
            log.warning("handing the leases back timed out; they expire by themselves: %s", exc)
        finally:
            if locked:
                self._lock.release()
        shutil.rmtree(orphans.owner_dir(self._run_dir, self.owner), ignore_errors=True)

    def detach(self, grace: float = 5.0) -> None:
        """Leave, keeping running work (an upgrade, a planned restart): the results already
        in are recorded, the commands run on under the supervisor or on their workers with
        their leases, and the next scheduler adopts them (at once on this host, where this
        process is seen dead; elsewhere when the lease lapses). An executor that cannot keep
        its commands without this process (STORM_SUPERVISED=0) is closed as by `close`."""
        detach = getattr(self.executor, "detach", None)
        self.waits.close()
        if detach is None:
            self.close(grace)
            return
        locked = self._lock.acquire(timeout=max(grace, 0.1))
        try:
            with self._limited():
                while locked and not self.results.empty():
                    self._apply_results(self._next_result(None))
        except Exception as exc:  # the leases stay: the next scheduler finds what is left
            log.warning("recording the last results failed: %s", exc)
        finally:
            if locked:
                self._lock.release()
        detach(grace)

    # -- results ---------------------------------------------------------------------
    def _has_pending_work(self) -> bool:
        waiting = any(not self._is_paused(w) for w in self._check)
        return waiting or not self.results.empty()

    def _next_result(self, wait: float | None) -> JobResult | None:
        try:
            return self.results.get(timeout=wait) if wait else self.results.get_nowait()
        except queue.Empty:
            return None

    def _handed_back(self, result: JobResult) -> bool:
        """A stop by close(): not a failure of the task, not recorded (see close); or WAKE."""
        return result is WAKE or (result.error == STOPPED and result.token in self._shutting_down)

    def wake(self) -> None:
        """End the loop's idle wait now (any thread): an outcome handed over from elsewhere (a
        webhook through the API, a wait's result) is acted on at once, not after idle_wait."""
        self.results.put(WAKE)

    def _apply_results(self, first: JobResult | None) -> bool:
        if first is None:
            return False
        by_workflow: defaultdict[str, list[JobResult]] = defaultdict(list)
        for result in [first, *self._more_results()]:
            if not self._handed_back(result):
                by_workflow[result.workflow_id].append(result)
        for workflow_id, results in by_workflow.items():
            self._advance_isolated(workflow_id, results)
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
        now = self.clock()
        expired = self._expired(workflow_id, now)  # may read the store: before taking work
        candidates = self._take_candidates(workflow_id)
        free = self.executor.free_slots()
        due = self._pop_due(workflow_id, now, free)
        if expired:  # record results; run and claim nothing more
            candidates, free, due = set(), 0, []
            self._due.pop(workflow_id, None)
        if not (results or candidates or due):
            return 0
        self.waits.refresh()  # which providers have limits, read before the lock (cheap)
        # node -> kind of what this transaction may claim, read in it (no per-node cache:
        # 10,000 waiting jobs cost the scheduler no per-node memory)
        kinds: dict[str, str] = {}
        lease = Lease(self.owner, now + self.settings.lease_seconds)
        claimed: list[tuple[str, str]] = []  # (node, log file) started in this transaction
        limited: list[tuple[str, str]] = []  # due, but holding named limits: the claim path
        handled: set[str] = set()  # due tokens claimed, gone or limited (others: next time)
        deferred: list[str] = []  # candidates beyond RUN_BATCH: the next transaction's
        archived: list[bool] = []  # decide found the workflow archived
        bound: list[tuple[str, str]] = []  # attempts left to their host's uploader

        # claimed nodes of wait kinds and `workflow` nodes: they take no executor slot
        waiting: list[str] = []

        def slotless(name: str) -> bool:
            kind = kinds.get(name, "task")
            return kind == SUBWORKFLOW or self.waits.handles(kind)

        def full(name: str) -> bool:
            """No slot for this node: executor slots for commands and actions; wait kinds
            and children (no slot) up to RUN_BATCH per transaction."""
            if slotless(name):
                return len(waiting) >= RUN_BATCH
            return len(claimed) - len(waiting) >= free

        def claim(overlay: core.Overlay, total: Outcome, name: str, token: str) -> None:
            if slotless(name):
                waiting.append(name)
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
            waiting.clear()
            limited.clear()
            handled.clear()
            deferred.clear()
            archived.clear()
            bound.clear()
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
            if view.head is not None and view.head.archived:  # read with the lock
                archived.append(True)  # results recorded; nothing more runs or is claimed
                handled.update(token for _, token in due)
                total.check = set()
                return total
            if not expired:  # its ttl ran out: nothing more runs
                wanted = candidates | total.check
                if len(wanted) > RUN_BATCH:  # a fan-out of 200,000: a batch per transaction
                    ordered = sorted(wanted)
                    wanted, deferred[:] = set(ordered[:RUN_BATCH]), ordered[RUN_BATCH:]
                if len(wanted) > PREFETCH_CHILDREN:  # a batch: read whole in a few queries
                    view.prefetch(sorted(wanted - total.nodes.keys()))
                ready = core.run_ready(overlay, sorted(wanted), at=now)
                overlay.lay(ready)
                total.absorb(ready)
            total.check = set()  # examined just now
            kinds.clear()
            kinds.update(view.kinds(sorted({*(n for n, _ in total.start), *(n for n, _ in due)})))
            # Claim what is due in the same transaction: no transaction of its own per
            # dispatch. Nodes holding named limits take the `claim` path, which counts
            # their usage.
            for name, attempt in list(total.start):
                if full(name) or attempt.not_before > now:
                    continue
                if bound_host(overlay.node(name).current) is not None:
                    bound.append((workflow_id, attempt.token))
                    continue  # its host's `storm uploader` claims it (uploads/daemon.py)
                if self._takes_limits(overlay.node(name).current):
                    continue
                claim(overlay, total, name, attempt.token)
            # Attempts made earlier, still ours to claim: live and leased to no one (the
            # workflow lock keeps it so until commit).
            if due:
                unleased = view.unleased([token for _, token in due])
                for name, token in due:
                    if full(name):
                        continue  # not handled: back on the heap for the next transaction
                    handled.add(token)
                    if token not in unleased or overlay.node(name).live_token != token:
                        continue  # gone (stopped, retried) or claimed by another scheduler
                    if bound_host(overlay.node(name).current) is not None:
                        bound.append((workflow_id, token))
                        continue  # its host's `storm uploader` claims it
                    if self._takes_limits(overlay.node(name).current):
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

        began = time.perf_counter()
        try:
            applied = self.store.transact(
                workflow_id, decide, lease=lease, response=_no_summary, prefetch=wanted
            )
        except Exception:
            self._check[workflow_id].update(candidates)  # examine them again next time
            for name, token in due:
                heapq.heappush(self._due[workflow_id], (now, name, token))
            raise
        self.stats.transaction_seconds.observe(time.perf_counter() - began)
        self.stats.results += len(results)
        if deferred:
            self._check[workflow_id].update(deferred)
        self._bound.update(bound)  # the poll below need not try to claim them
        if archived:
            self._due.pop(workflow_id, None)
        first = applied.first_seq
        if first is not None and self._seen.get(workflow_id) == first - 1:
            self._seen[workflow_id] = applied.last_seq or first  # nothing new by others
        for name, token in due:
            if token not in handled:  # no slot left in this transaction: next time
                heapq.heappush(self._due[workflow_id], (now, name, token))
        if applied.outcome is None:
            return 0
        self.stats.stale += sum(e.type == "stale-result" for e in applied.outcome.events)
        self._after(workflow_id, applied.outcome, leased=set(lease.tokens))
        # Committed: from here a failure must not send the results back (they are recorded);
        # an attempt left unsent lapses into a lost one, rerun at once.
        sent = 0
        try:
            children: list[tuple[core.Node, str, str]] = []  # started together, below
            for name, logfile in claimed:
                node = applied.outcome.nodes[name]
                token = node.attempts[-1].token
                kind = kinds.get(name, "task")
                if kind == SUBWORKFLOW:
                    children.append((node, token, logfile))
                else:
                    sent += self._submit(workflow_id, node, token, logfile, kind)
            if children:
                sent += self.subworkflows.start_many(workflow_id, children)
            for name, token in limited:
                sent += self._send(workflow_id, name, token, now)
        except Exception as exc:
            self._trouble(workflow_id, exc)
        return sent

    def _takes_limits(self, config: dict[str, object]) -> bool:
        """Whether claiming takes the limits path: named `limits`, or an external job whose
        provider has a `max_concurrent` (or is not known here yet: checked by the claim)."""
        return takes_limits(config) and (
            bool(config.get("limits")) or self.waits.limited(str(config.get("provider")))
        )

    def _take_candidates(self, workflow_id: str) -> set[str]:
        """Up to RUN_BATCH of the workflow's nodes to examine (the rest wait their turn), so
        that no transaction runs 200,000 nodes at once while everything else waits."""
        pending = self._check.get(workflow_id)
        if not pending:
            self._check.pop(workflow_id, None)
            return set()
        if len(pending) <= RUN_BATCH:
            return self._check.pop(workflow_id)
        return {pending.pop() for _ in range(RUN_BATCH)}

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
        if outcome.stop:
            self.waits.stopped()  # a waiting job among them is cancelled outside at once
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

    def _told(self, workflow_id: str, outcome: Outcome) -> None:
        """An outcome written by another thread of this process (a wait's result)."""
        with self._lock:
            self._after(workflow_id, outcome)
        self.wake()

    # -- runs ------------------------------------------------------------------------
    def _run_ready(self) -> bool:
        if not self._check:
            return False
        ran = False
        for workflow_id in list(self._check):
            if not self._is_paused(workflow_id):
                ran = True
                self._advance_isolated(workflow_id, [])  # runs them, claims as slots allow
        return ran

    def rescan(self) -> None:
        """Examine the runnable nodes of the workflows with work that changed since this
        scheduler last looked (start, recovery, actions by other processes).

        The workflows with work come from one read along the status index (their summary
        says "running"): held, failed and finished ones cost nothing however many are kept.
        A workflow whose last event is one this scheduler saw (or wrote) is not read again.
        """
        wanted = self.settings.workflows
        live: set[str] = set()
        for workflow_id, seq in self.store.work(self.clock()):
            if wanted is not None and workflow_id not in wanted:
                continue
            live.add(workflow_id)
            if self._seen.get(workflow_id) == seq or self._check.get(workflow_id):
                # seen already; or still working through its candidates (a fan-out of
                # 200,000 runs in batches: searching all its runnable nodes again costs seconds)
                continue
            names = self.store.runnable_nodes(workflow_id)
            if names:
                self._check[workflow_id].update(names)
            self._seen[workflow_id] = seq
        finished = self._seen.keys() - live
        for gone in finished:
            del self._seen[gone]
        # what was kept about finished work goes with it: a scheduler running for weeks
        # holds state in proportion to the work under way, not to the work done
        for cache in (self._names, self._expires):
            for gone in cache.keys() - live:
                del cache[gone]
        if finished and self._ready_at:
            for key in [k for k in self._ready_at if k[0] in finished]:
                del self._ready_at[key]

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
            sent += self._advance_isolated(workflow_id, [])
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
            if self._is_paused(item.workflow_id) or (item.workflow_id, item.token) in self._bound:
                continue
            try:
                polled += self._send(item.workflow_id, item.node, item.token, now)
            except Exception as exc:
                self._trouble(item.workflow_id, exc)
        return sent + polled > 0

    def _send(self, workflow_id: str, name: str, token: str, now: float) -> bool:
        logfile = str(log_path(self.settings.data_dir, workflow_id, token))
        try:
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
        except Exception as exc:
            if is_busy(exc):
                raise
            # e.g. `limits: 5` written into the database by hand: this node's fault alone
            self._not_started(workflow_id, name, token, logfile, "cannot claim it", exc)
            return False
        if node is None:
            return False
        return self._submit(workflow_id, node, token, logfile)

    def _submit(
        self,
        workflow_id: str,
        node: core.Node,
        token: str,
        logfile: str,
        kind: str | None = None,
    ) -> bool:
        """Hand a claimed attempt to the executor. An attempt that cannot be rendered or
        started (whatever its stored configuration holds) fails alone: see `_not_started`.
        `kind`: the node's, when the claiming transaction read it."""
        name = node.name
        if kind is None:
            kind = self._kind(workflow_id, name)
        if kind == SUBWORKFLOW:  # no executor, no slot: a child
            return self.subworkflows.start(workflow_id, node, token, logfile)
        try:
            spec = get_kind(kind)
            reports = spec is not None and spec.reports
            status = "running"
            if reports or uses_status(node):
                status = self._status_for_job(workflow_id)
            job = render_job(
                data_dir=self.settings.data_dir,
                workflow_id=workflow_id,
                workflow_name=self._workflow_name(workflow_id),
                kind=kind,
                node=node,
                token=job_token(workflow_id, token),
                status=status,
                log=logfile,
                summary=(
                    notice.workflow_summary(
                        self.store,
                        workflow_id,
                        status,
                        workflow_dir(self.settings.data_dir, workflow_id),
                    )
                    if reports
                    else None
                ),
            )
        except Exception as exc:
            if is_busy(exc):
                raise  # the store, not the node: retried by the loop
            self._not_started(workflow_id, name, token, logfile, "cannot render its job", exc)
            return False
        try:
            if self.waits.handles(job.kind):
                self.waits.hand(job)  # no slot: the wait is a row (engine/waits.py)
            else:
                self.executor.submit(job)
        except ExecutorError as exc:  # the slot went away: let the lease lapse into a retry
            log.warning("could not dispatch %s/%s: %s", workflow_id, name, exc)
            return False
        except Exception as exc:
            self._not_started(workflow_id, name, token, logfile, "the executor refused it", exc)
            return False
        self.stats.dispatched += 1
        ready = self._ready_at.pop((workflow_id, token), None)
        if ready is not None:
            waited = max(0.0, self.clock() - ready)
            self.stats.dispatch_latency.append(waited)
            self.stats.dispatch_seconds.observe(waited)
        return True

    def _not_started(
        self, workflow_id: str, name: str, token: str, logfile: str, what: str, exc: Exception
    ) -> None:
        """Record a claimed attempt that could not start as failed, with the reason in its log
        and (through the failure's event) in the workflow's events; the loop goes on."""
        reason = f"could not start: {what}: {type(exc).__name__}: {exc}"
        log.error("%s/%s (%s) %s", workflow_id, name, token, reason, exc_info=exc)
        try:
            Path(logfile).parent.mkdir(parents=True, exist_ok=True)
            with open(logfile, "a", encoding="utf-8") as out:
                out.write(f"storm: {reason}\n")
        except OSError as err:  # the log is a courtesy: the event holds the reason too
            log.warning("could not write %s: %s", logfile, err)
        now = self.clock()
        self.results.put(
            JobResult(
                workflow_id=workflow_id,
                node=name,
                token=job_token(workflow_id, token),
                ok=False,
                exit_code=None,
                error=reason,
                started_at=now,
                ended_at=now,
            )
        )

    def _kind(self, workflow_id: str, name: str) -> str:
        return self.store.kinds_of(workflow_id, [name]).get(name, "task")

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
            assert isinstance(view, StoreView)  # read on its connection: no second checkout
            rows = self.store.nodes_in(view.conn, workflow_id, statuses=["running"])
            running = [r.name for r in rows]
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
        self.waits.tick()  # due polls, submits, cancels: in the waits' own threads
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
            if (wanted is None or workflow_id in wanted) and not self._is_paused(workflow_id):
                busy = True
                try:
                    self._remember_workflow(workflow_id)
                    self._expire(workflow_id, now)
                except Exception as exc:
                    self._trouble(workflow_id, exc)
        if now >= self._next_takeover:
            # Another scheduler of this host died (kill -9, OOM): its claims are ours now,
            # not after its leases run out.
            self._next_takeover = now + TAKEOVER_EVERY
            busy |= self._recover_dead_owners() > 0
        busy |= self.subworkflows.follow(now)
        for workflow_id, name, token, owner, logfile in self.store.expired_leases(
            now, workflow_ids=wanted
        ):
            if self._is_paused(workflow_id):
                continue
            busy = True
            if owner not in (self.owner, WAITING_OWNER) and self._adopt(
                owner, [(workflow_id, name, token, logfile)]
            ):
                continue  # still running (or ended) under a supervisor or worker: ours now
            lost = functools.partial(
                core.fail, name=name, token=token, at=now, lost=True, error="worker lost"
            )
            key = f"lost:{workflow_id}:{token}"
            try:
                applied = self.store.transact(workflow_id, lost, idempotency_key=key)
            except Exception as exc:
                self._trouble(workflow_id, exc)
                continue
            self.stats.lost += 1
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
            if owner in (self.owner, CHILD_OWNER):  # children's attempts follow no process
                continue
            if not (owner_is_dead_here(owner) or self._gone(owner)):
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
