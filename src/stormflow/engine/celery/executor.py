"""`CeleryExecutor`: the Executor of a scheduler whose attempts run on `storm worker`s.

submit() sends one Celery message per attempt to the queue of the node's instance type. Two
threads talk to Redis:

- the reader BLPOPs this scheduler's result list: log chunks are appended to the attempt's log
  path here (so `storm logs` and the API read remote logs like local ones), results go to
  `on_result`;
- the monitor keeps this scheduler's owner key alive (workers kill the commands of a scheduler
  that is gone) and watches heartbeats: an attempt a worker took whose heartbeat lapsed is
  reported lost at once (retried without using up retries) instead of waiting for its lease.

Email jobs never leave the scheduler: they run through a LocalExecutor here, where the SMTP
settings live.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis

from stormflow.engine.celery import keys
from stormflow.engine.celery.app import DEFAULT_QUEUE, TASK, make_app
from stormflow.engine.celery.wire import job_to_wire, result_from_wire
from stormflow.engine.executor import STOPPED, ExecutorError, NoFreeSlot, Orphan, ResultCallback
from stormflow.engine.jobs import Job, JobResult
from stormflow.engine.local import LocalExecutor
from stormflow.kinds import runs
from stormflow.kinds.email import EmailSender
from stormflow.paths import append_private

log = logging.getLogger(__name__)

WORKER_LOST = "worker lost"
_CHUNK = 500  # tokens per Redis round trip in the monitor
#: Messages queued ahead of the workers when they announced no capacity (none started yet).
QUEUE_AHEAD_MIN = 4


class CeleryExecutor:
    def __init__(
        self,
        on_result: ResultCallback,
        app_or_broker_url: Any,
        *,
        redis_url: str,
        slots: int = 1000,
        heartbeat_ttl: float = 10.0,
        owner: str | None = None,
        email_sender: EmailSender | None = None,
        orphan_grace: float = 600.0,
    ) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        if heartbeat_ttl < 0.3:
            raise ValueError("heartbeat_ttl below 0.3 s cannot be kept by workers")
        self._on_result = on_result
        app = app_or_broker_url
        self._app = make_app(app) if isinstance(app, str) else app
        self._redis_url = redis_url
        self._redis = redis.Redis.from_url(redis_url, decode_responses=True)
        self._redis.ping()  # fail at start, not at the first result
        self._slots = slots
        self._ttl = heartbeat_ttl
        self.owner = owner or f"celery-{uuid.uuid4().hex[:12]}"
        self._results_key = keys.results(self.owner)
        self._local = LocalExecutor(on_result, slots=slots, email_sender=email_sender)
        self._lock = threading.Lock()
        self._sent: dict[str, Job] = {}  # token -> job: sent, not reported yet
        self._untaken = 0  # of those, not taken by a worker yet (as of the last check)
        self._orphan_grace = orphan_grace  # sent with each message: see worker._check
        # Dead schedulers whose attempts we adopted -> those tokens not reported yet: their
        # workers push results to the dead one's list, which we read (and keep its key alive).
        self._adopted: dict[str, set[str]] = {}
        # Adopted attempts that had ended (result returned by adopt): their log is still read
        # from the dead one's list, up to the result there, which is then dropped.
        self._draining: dict[str, str | None] = {}
        self._capacity = 0  # attempts the live workers run at once (their announcements)
        self._closed = threading.Event()  # no more submits
        self._finished = threading.Event()  # the threads end
        self._keep_owner_alive()
        self._read_capacity()
        self._threads = [
            threading.Thread(target=self._read, name="storm-celery-results", daemon=True),
            threading.Thread(target=self._monitor, name="storm-celery-monitor", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # -- the Executor interface ----------------------------------------------------------------

    def submit(self, job: Job) -> None:
        if self._closed.is_set():
            raise ExecutorError(f"cannot run {job.workflow_id}/{job.node}: executor is closed")
        if runs(job.kind) != "commands":  # actions run here, in the scheduler's process
            if self.free_slots() <= 0:
                raise NoFreeSlot(f"cannot run {job.workflow_id}/{job.node}: all slots are busy")
            self._local.submit(job)
            return
        with self._lock:
            if job.token in self._sent:
                raise ExecutorError(f"attempt {job.token} of {job.node} was already sent")
            if len(self._sent) + len(self._local.running()) >= self._slots:
                raise NoFreeSlot(f"cannot run {job.workflow_id}/{job.node}: all slots are busy")
            if self._untaken >= max(QUEUE_AHEAD_MIN, self._capacity):
                raise NoFreeSlot(
                    f"cannot run {job.workflow_id}/{job.node}: the workers have enough queued"
                )
            self._sent[job.token] = job
            self._untaken += 1
        message = job_to_wire(job, owner=self.owner, heartbeat_ttl=self._ttl)
        message["grace"] = self._orphan_grace
        try:
            # The token is the task id: a redelivered or duplicated message carries it too.
            self._app.send_task(
                TASK, args=[message], queue=job.queue or DEFAULT_QUEUE, task_id=job.token
            )
        except Exception as exc:  # broker down: the scheduler lets the lease lapse into a retry
            with self._lock:
                self._sent.pop(job.token, None)
            raise ExecutorError(f"cannot send {job.workflow_id}/{job.node}: {exc}") from exc

    def stop(self, token: str) -> None:
        """Ask the worker to kill the command's process group; drop the message if not taken.

        Not `revoke(terminate=True)`: that kills the worker's pool process, not the command's
        own process group (which would run on, orphaned), and no result would come back. The
        stop key reaches the supervising worker within a quarter second; a message no worker
        took yet is marked STOPPED, so whoever receives it later drops it (which revoke only
        does while the receiving worker remembers it in memory).
        """
        if token in self._local.running():
            self._local.stop(token)
            return
        with self._lock:
            sent = self._sent.get(token)
        if sent is None:
            return
        pipe = self._redis.pipeline()
        pipe.set(keys.stop(token), "1", ex=keys.DAY)
        pipe.set(keys.hb(token), keys.STOPPED, nx=True, ex=keys.DAY)
        _, untaken = pipe.execute()
        if untaken:  # no worker has it: nobody else will report it
            self._report(token, ok=False, error=STOPPED)

    def abandon(self, tokens: list[str]) -> None:
        """Stop keys for a dead scheduler's attempts: their workers kill them within a quarter
        second, not a whole ttl later (when its owner key lapses); a message no worker took
        yet is marked STOPPED and dropped. No result is reported: the lease recovers them."""
        if not tokens:
            return
        pipe = self._redis.pipeline()
        for token in tokens:
            pipe.set(keys.stop(token), "1", ex=keys.DAY)
            pipe.set(keys.hb(token), keys.STOPPED, nx=True, ex=keys.DAY)
        pipe.execute()

    def adopt(self, owner: str, orphans: Sequence[Orphan]) -> tuple[list[str], list[JobResult]]:
        """Watch a dead scheduler's attempts that a worker still runs (its heartbeat is held):
        their results come to us from now on. Those that ended meanwhile are returned from the
        `result:<token>` their worker kept. Others (never taken, lost) are not adopted."""
        if not orphans:
            return [], []
        tokens = [o.token for o in orphans]
        pipe = self._redis.pipeline(transaction=False)
        pipe.mget([keys.hb(t) for t in tokens])
        pipe.mget([keys.result(t) for t in tokens])
        beats, stored = pipe.execute()
        running: list[str] = []
        finished: list[JobResult] = []
        with self._lock:
            for orphan, beat, result in zip(orphans, beats, stored, strict=True):
                if result is not None:
                    try:
                        finished.append(result_from_wire(_loads(result)))
                    except (ValueError, TypeError) as exc:
                        log.warning("bad stored result of %s: %s", orphan.token, exc)
                        continue
                    # Its log chunks wait in the dead one's list, before its result there.
                    self._draining[orphan.token] = orphan.log
                    self._adopted.setdefault(owner, set()).add(orphan.token)
                elif beat is not None and beat not in keys.TERMINAL:
                    job = Job(
                        orphan.workflow_id, orphan.node, orphan.token, "task", log_path=orphan.log
                    )
                    self._sent.setdefault(orphan.token, job)
                    self._adopted.setdefault(owner, set()).add(orphan.token)
                    running.append(orphan.token)
        if running:
            self._keep_owner_alive()  # its workers see it back at once
        return running, finished

    def forget(self, tokens: Sequence[str]) -> None:
        with self._lock:
            for token in tokens:
                self._sent.pop(token, None)
                self._unadopt(token)

    def _unadopt(self, token: str) -> None:
        """Called with the lock held."""
        if token in self._draining:
            return  # still reading its log
        for owner, pending in list(self._adopted.items()):
            pending.discard(token)
            if not pending:
                del self._adopted[owner]

    def free_slots(self) -> int:
        """Slots, but never more messages waiting in the queues than the live workers can
        start soon (their announced capacity; QUEUE_AHEAD_MIN while none announced any): a
        claim waiting in a queue is one no other scheduler can run."""
        with self._lock:
            free = self._slots - len(self._sent) - len(self._local.running())
            ahead = max(QUEUE_AHEAD_MIN, self._capacity) - self._untaken
            return min(free, ahead)

    def owner_gone(self, owner: str) -> bool:
        """Whether that Celery scheduler's heartbeat (its owner key) lapsed: its claims can be
        taken over now, not after their leases run out."""
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.exists(keys.seen(owner))
            pipe.exists(keys.owner(owner))
            seen, alive = pipe.execute()
        except redis.RedisError as exc:
            log.warning("checking scheduler %s: %s", owner, exc)
            return False
        return bool(seen) and not alive

    def running(self) -> list[str]:
        """Attempts sent and not reported: queued, or running with a live heartbeat."""
        with self._lock:
            return [*self._sent, *self._local.running()]

    def detach(self, grace: float) -> None:
        """Leave without stopping anything: the workers run on through the outage grace and
        keep each result for the scheduler that adopts the attempt once our owner key lapses."""
        self._closed.set()
        self._local.close(grace)
        self._finished.set()
        for thread in self._threads:
            thread.join(timeout=5.0)
        self._redis.close()

    def close(self, grace: float) -> None:
        """Stop everything sent and wait (bounded) for the workers to report it."""
        self._closed.set()
        for token in self.running():
            self.stop(token)
        self._local.close(grace)
        deadline = time.monotonic() + grace + 5.0  # the worker polls, then SIGTERM, SIGKILL
        while time.monotonic() < deadline:
            with self._lock:
                if not self._sent:
                    break
            time.sleep(0.05)
        self._finished.set()
        for thread in self._threads:
            thread.join(timeout=5.0)
        try:
            self._redis.delete(keys.owner(self.owner))
        except redis.RedisError as exc:
            log.warning("cannot remove owner key of %s: %s", self.owner, exc)
        self._redis.close()

    # -- results and logs ----------------------------------------------------------------------

    def _report(self, token: str, *, ok: bool, error: str | None, lost: bool = False) -> None:
        """A result made here (stopped before it ran, worker lost): exactly once per token."""
        with self._lock:
            job = self._sent.pop(token, None)
            self._unadopt(token)
        if job is None:
            return
        now = time.time()
        result = JobResult(job.workflow_id, job.node, token, ok, None, error, now, now, lost=lost)
        self._deliver(result)

    def _deliver(self, result: JobResult) -> None:
        try:
            self._on_result(result)
        except Exception:
            log.exception("on_result failed for %s", result.token)

    def _read(self) -> None:
        # A read timeout beyond BLPOP's own: a connection that died silently is replaced.
        client = redis.Redis.from_url(self._redis_url, decode_responses=True, socket_timeout=10)
        while not self._finished.is_set():
            with self._lock:
                lists = [self._results_key, *(keys.results(o) for o in self._adopted)]
            try:
                item = client.blpop(lists, timeout=1)
            except redis.RedisError as exc:
                log.warning("reading results: %s; retrying", exc)
                time.sleep(1.0)
                continue
            if item is None:
                continue
            try:
                self._handle(_loads(item[1]))
            except Exception:
                log.exception("bad message on %s", self._results_key)
        client.close()

    def _handle(self, data: dict[str, Any]) -> None:
        token = str(data["token"])
        with self._lock:
            sent = self._sent.get(token)
        if data["type"] == "log":
            with self._lock:
                path = sent.log_path if sent is not None else self._draining.get(token)
            if path:
                _append(Path(path), base64.b64decode(data["data"]))
            return
        result = result_from_wire(data)
        with self._lock:
            self._unadopt(token)
            if token in self._draining:
                del self._draining[token]
                self._unadopt(token)
                return  # returned by adopt already
            if self._sent.pop(token, None) is None:
                return  # already reported (lost, stopped before it ran): stale
        self._deliver(result)

    # -- liveness ------------------------------------------------------------------------------

    def _keep_owner_alive(self) -> None:
        with self._lock:
            adopted = list(self._adopted)
        pipe = self._redis.pipeline(transaction=False)
        for owner in [self.owner, *adopted]:
            pipe.set(keys.owner(owner), str(time.time()), px=int(self._ttl * 1000))
        pipe.set(keys.seen(self.owner), "1", ex=keys.DAY)
        pipe.execute()

    def _read_capacity(self) -> None:
        now = time.time()
        total = 0
        lapsed = []
        for worker, value in self._redis.hgetall(keys.CAPACITY).items():
            count, _, until = str(value).partition(" ")
            try:
                if float(until) < now:
                    lapsed.append(worker)
                else:
                    total += int(count)
            except ValueError:
                lapsed.append(worker)
        if lapsed:
            self._redis.hdel(keys.CAPACITY, *lapsed)
        self._capacity = total

    def _monitor(self) -> None:
        every = min(self._ttl / 3, 1.0)
        while not self._finished.wait(every):
            try:
                self._keep_owner_alive()
                self._read_capacity()
                self._check_heartbeats()
            except redis.RedisError as exc:
                log.warning("checking heartbeats: %s; retrying", exc)

    def _check_heartbeats(self) -> None:
        with self._lock:
            tokens = list(self._sent)
        untaken = 0
        for start in range(0, len(tokens), _CHUNK):
            chunk = tokens[start : start + _CHUNK]
            pipe = self._redis.pipeline(transaction=False)
            pipe.mget([keys.hb(t) for t in chunk])
            pipe.mget([keys.started(t) for t in chunk])
            beats, starts = pipe.execute()
            for token, beat, started in zip(chunk, beats, starts, strict=True):
                if beat is None and started is None:
                    untaken += 1
                if beat is not None or started is None:
                    continue  # running, finished (result on its way), or still queued
                # Taken by a worker whose heartbeat lapsed. NX: only if no worker holds it now.
                if self._redis.set(keys.hb(token), keys.LOST, nx=True, ex=keys.DAY):
                    log.warning("attempt %s: the worker %s is lost", token, started)
                    self._report(token, ok=False, error=WORKER_LOST, lost=True)
        with self._lock:  # sent since the read above are untaken too
            self._untaken = untaken + max(0, len(self._sent) - len(tokens))


def _loads(text: str | bytes) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return data


def _append(path: Path, data: bytes) -> None:
    try:
        append_private(path, data)
    except OSError as exc:  # the result still counts; only the log is incomplete
        log.warning("cannot write log %s: %s", path, exc)
