"""What a `storm worker` runs for each message: one attempt, supervised through Redis.

The command runs through the LocalExecutor (its own process group, log, max/min seconds,
SIGTERM then SIGKILL), so a remote attempt behaves exactly like a local one. Around it:

- `hb:<token>` taken with SET NX first: a duplicate or late delivery finds it held (or marked
  done, lost or stopped) and is acknowledged without running anything;
- the heartbeat is renewed every ttl/3; if it was declared lost meanwhile (this worker stalled),
  the command is killed: its attempt has been retried elsewhere;
- `stop:<token>` is polled every quarter second: cancel/skip/update kills the process group;
- the scheduler's owner key is watched: while it is missing (its scheduler down) the command
  runs on for the message's grace (default 10 minutes), for a restarted or another scheduler
  to adopt the attempt; the result waits in the list and in `result:<token>`. Only after the
  grace with nobody there is the command killed;
- the local log is shipped to the scheduler every few seconds and at the end, then the result.

Commands that outlive a worker killed with SIGKILL are recorded under `<data dir>/run/` and
reaped when the next worker starts on the same host (as schedulers do).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

from stormflow.engine import liveness, orphans
from stormflow.engine.celery import keys
from stormflow.engine.celery.app import TASK
from stormflow.engine.celery.wire import job_from_wire, result_to_wire
from stormflow.engine.executor import STOPPED
from stormflow.engine.jobs import Job, JobResult
from stormflow.engine.local import LocalExecutor
from stormflow.engine.render import log_path
from stormflow.paths import append_private

log = logging.getLogger(__name__)

POLL = 0.25  # seconds between stop-key checks
SHIP_EVERY = 2.0  # seconds between log shipments while a command runs
CHUNK = 256 * 1024  # bytes of log per Redis message
SCHEDULER_LOST = "scheduler lost"
ORPHAN_GRACE = 600.0  # seconds a command runs on without its scheduler (messages say theirs)


def new_worker_id() -> str:
    """host:pid:random, the scheduler owner format, so a restart here spots its dead self."""
    return f"{socket.gethostname()}:{liveness.identity()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Runtime:
    """The worker process's state: set once by `configure`, read by every task."""

    name: str
    data_dir: Path
    redis: redis.Redis
    local: LocalExecutor
    waiters: dict[str, queue.Queue[JobResult]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_result(self, result: JobResult) -> None:
        with self.lock:
            waiter = self.waiters.get(result.token)
        if waiter is not None:
            waiter.put(result)


_runtime: Runtime | None = None


def configure(
    data_dir: Path, redis_url: str, name: str | None = None, capacity: int | None = None
) -> Runtime:
    """Set up this worker process: reap dead predecessors' commands, record ours, and (with
    `capacity`) announce how many attempts it runs at once."""
    from stormflow.engine.scheduler import owner_is_dead_here  # the same test as schedulers

    global _runtime
    name = name or new_worker_id()
    run_dir = data_dir / "run"
    killed = orphans.reap_dead_owners(run_dir, owner_is_dead_here)
    if killed:
        log.info("killed %d orphaned command(s) of dead workers", killed)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.ping()
    holder: list[Runtime] = []
    local = LocalExecutor(
        lambda r: holder[0].on_result(r), slots=4096, pid_dir=orphans.claim_dir(run_dir, name)
    )
    runtime = Runtime(name=name, data_dir=data_dir, redis=client, local=local)
    holder.append(runtime)
    _runtime = runtime
    if capacity is not None:
        threading.Thread(
            target=_announce, args=(redis_url, name, capacity), name="storm-capacity", daemon=True
        ).start()
    return runtime


def _announce(redis_url: str, name: str, capacity: int) -> None:
    """Keep this worker's entry of the capacity hash fresh while the process lives."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    while True:
        lapses = time.time() + 3 * keys.CAPACITY_EVERY
        try:
            client.hset(keys.CAPACITY, name, f"{capacity} {lapses:.0f}")
        except redis.RedisError as exc:
            log.warning("announcing capacity: %s", exc)
        time.sleep(keys.CAPACITY_EVERY)


def register(app: Any) -> None:
    app.task(name=TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)(run_attempt)


def run_attempt(message: dict[str, Any]) -> str:
    """The Celery task; returns what happened (for the worker's own log)."""
    if _runtime is None:
        raise RuntimeError("storm worker not configured")
    try:
        job, owner, ttl = job_from_wire(message)
        grace = float(message.get("grace", ORPHAN_GRACE))
    except (KeyError, TypeError, ValueError) as exc:
        log.error("dropping a malformed message: %s", exc)
        return "malformed"
    return _Supervisor(_runtime, job, owner, ttl, grace).run()


class _Supervisor:
    def __init__(
        self, rt: Runtime, job: Job, owner: str, ttl: float, grace: float = ORPHAN_GRACE
    ) -> None:
        self.rt = rt
        self.job = job
        self.owner = owner
        self.grace = grace  # how long it runs on while its scheduler is gone
        self.owner_missing_since: float | None = None
        self.ttl_ms = max(300, int(ttl * 1000))
        self.hb = keys.hb(job.token)
        self.shipped = 0
        self.local_log = log_path(rt.data_dir, job.workflow_id, job.token.partition("/")[2])
        self.reason: str | None = None  # why we stopped it, if we did
        self.next_renew = self.next_ship = 0.0

    def run(self) -> str:
        r, job = self.rt.redis, self.job
        if not r.set(self.hb, self.rt.name, nx=True, px=self.ttl_ms):
            log.info("%s: already taken or finished (%s): dropped", job.token, r.get(self.hb))
            return "duplicate"
        r.set(keys.started(job.token), self.rt.name, ex=keys.DAY)
        # A scheduler that is down now may come back (or another one adopt the attempt):
        # it runs, and the grace rule in _check decides (see there).
        if r.exists(keys.stop(job.token)):
            return self._finish(self._made(error=STOPPED))
        waiter: queue.Queue[JobResult] = queue.Queue()
        with self.rt.lock:
            self.rt.waiters[job.token] = waiter
        try:
            self._preface()
            self.rt.local.submit(replace(job, log_path=str(self.local_log), env=self._env()))
            result = self._supervise(waiter)
        finally:
            with self.rt.lock:
                self.rt.waiters.pop(job.token, None)
        self._ship()
        if self.reason is not None:  # replaced elsewhere: retried at once, retries untouched
            result = replace(result, ok=False, error=self.reason, lost=True)
        return self._finish(result)

    def _supervise(self, waiter: queue.Queue[JobResult]) -> JobResult:
        self.next_renew = self.next_ship = time.monotonic()
        stopping = False
        while True:
            try:
                return waiter.get(timeout=POLL)
            except queue.Empty:
                pass
            try:
                stopping = self._check(stopping)
            except redis.RedisError as exc:  # keep supervising: the heartbeat rules decide
                log.warning("%s: redis: %s", self.job.token, exc)

    def _check(self, stopping: bool) -> bool:
        """One poll: stop requests, heartbeat, owner, log shipment; returns `stopping`."""
        r, token = self.rt.redis, self.job.token
        now = time.monotonic()
        if not stopping and r.exists(keys.stop(token)):
            stopping = True
            self.rt.local.stop(token)
        if now >= self.next_renew:
            self.next_renew = now + self.ttl_ms / 3000
            held = r.eval(keys.RENEW_SCRIPT, 1, self.hb, self.rt.name, str(self.ttl_ms))
            # The owner key lapses a ttl after its scheduler's last refresh. The command runs
            # on through the outage: a restarted scheduler (or another one) adopts the attempt
            # and keeps the key alive again, and the result waits in the list. Only after the
            # grace with nobody there is the command killed.
            reason = None
            if not held:
                reason = "worker lost (heartbeat lapsed)"
            elif r.exists(keys.owner(self.owner)):
                self.owner_missing_since = None
            elif self.owner_missing_since is None:
                self.owner_missing_since = now
                log.warning("%s: its scheduler is gone; running on for %gs", token, self.grace)
            elif now - self.owner_missing_since > self.grace:
                reason = SCHEDULER_LOST
            if reason and not stopping:
                log.warning("%s: %s: killing its command", token, reason)
                stopping, self.reason = True, reason
                self.rt.local.stop(token)
        if now >= self.next_ship:
            self.next_ship = now + SHIP_EVERY
            self._ship()
        return stopping

    def _env(self) -> dict[str, str]:
        env = dict(self.job.env)
        bindir = str(Path(sys.executable).parent)  # this worker's Storm environment first
        env["PATH"] = os.pathsep.join([bindir, env.get("PATH") or os.environ.get("PATH", "")])
        env["STORM_WORKER"] = self.rt.name
        return env

    def _preface(self) -> None:
        stamp = datetime.now().astimezone().isoformat(timespec="milliseconds")
        queue_name = self.job.queue or "default"
        preface = f"=== [{stamp}] on worker {self.rt.name} (queue {queue_name})\n"
        append_private(self.local_log, preface.encode())

    def _ship(self) -> None:
        """Send the log written since the last shipment, in order, before any result."""
        try:
            with open(self.local_log, "rb") as fh:
                fh.seek(self.shipped)
                chunks = iter(lambda: fh.read(CHUNK), b"")
                pipe = self.rt.redis.pipeline(transaction=False)
                for chunk in chunks:
                    self.shipped += len(chunk)
                    data = base64.b64encode(chunk).decode()
                    pipe.rpush(keys.results(self.owner), _log_message(self.job.token, data))
                pipe.execute()
        except OSError as exc:
            log.warning("%s: cannot ship log: %s", self.job.token, exc)

    def _made(self, *, error: str, lost: bool = False) -> JobResult:
        now = time.time()
        job = self.job
        return JobResult(job.workflow_id, job.node, job.token, False, None, error, now, now, lost)

    def _finish(self, result: JobResult) -> str:
        """Result and DONE marker in one transaction: the executor never sees one alone."""
        outbox = keys.results(self.owner)
        line = json.dumps(result_to_wire(result))
        pipe = self.rt.redis.pipeline(transaction=True)
        pipe.rpush(outbox, line)
        pipe.set(keys.result(self.job.token), line, ex=keys.DAY)
        pipe.expire(outbox, keys.DAY)  # a dead scheduler's list does not stay for ever
        pipe.set(self.hb, keys.DONE, ex=keys.DAY)
        pipe.delete(keys.stop(self.job.token))
        pipe.execute()
        return "succeeded" if result.ok else f"failed: {result.error}"


def _log_message(token: str, data: str) -> str:
    return json.dumps({"type": "log", "token": token, "data": data})
