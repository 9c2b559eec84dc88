"""`SupervisedExecutor`: the local executor of a scheduler, run by the data directory's supervisor.

Commands are started and reaped by the supervisor process (supervisor.py), which outlives the
scheduler: after a crash or kill -9 the next scheduler adopts the attempts still running and
reads the outcome of those that ended meanwhile from beside their logs. Email jobs are sent here,
where the SMTP settings live. Everything else behaves as LocalExecutor: slots, stop (SIGTERM,
SIGKILL after the grace), max/min seconds, env and cwd, one log per attempt.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stormflow.engine import supervisor
from stormflow.engine.executor import ExecutorError, NoFreeSlot, Orphan, ResultCallback
from stormflow.engine.jobs import Job, JobResult
from stormflow.engine.local import LocalExecutor, _environ
from stormflow.kinds import runs
from stormflow.kinds.email import EmailSender

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 15.0  # seconds to reach (or start) the supervisor
ADOPT_TIMEOUT = 10.0


class SupervisorUnavailable(ExecutorError):
    pass


class SupervisedExecutor:
    def __init__(
        self,
        on_result: ResultCallback,
        data_dir: Path,
        *,
        slots: int | None = None,
        grace: float = 5.0,
        orphan_grace: float = supervisor.ORPHAN_GRACE,
        email_sender: EmailSender | None = None,
        services: Mapping[str, Any] | None = None,
    ) -> None:
        if slots is None:
            slots = os.cpu_count() or 1
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self._on_result = on_result
        self._data_dir = data_dir
        self._slots = slots
        self._grace = grace
        self._orphan_grace = orphan_grace
        self._local = LocalExecutor(
            on_result, slots=slots, email_sender=email_sender, services=services
        )
        self._lock = threading.Lock()  # guards _running, _closed, _answers
        self._send_lock = threading.Lock()  # one writer on the socket at a time
        self._running: dict[str, Job] = {}  # sent to the supervisor, not reported yet
        self._closed = False
        self._answers: dict[int, list[str]] = {}
        self._answered = threading.Condition(self._lock)
        self._next_id = 0
        self._delivering = 0  # results taken off _running, being handed to on_result
        self._env: dict[bytes, bytes] | None = None  # as last sent
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._connect()

    # -- the Executor interface ----------------------------------------------------------------

    def submit(self, job: Job) -> None:
        if runs(job.kind) != "commands":
            with self._lock:
                if len(self._running) + len(self._local.running()) >= self._slots:
                    raise NoFreeSlot(f"cannot run {job.workflow_id}/{job.node}: slots are busy")
            self._local.submit(job)
            return
        with self._lock:
            if self._closed:
                raise ExecutorError(f"cannot run {job.workflow_id}/{job.node}: executor is closed")
            if job.token in self._running:
                raise ExecutorError(f"attempt {job.token} of {job.node} is already running")
            if len(self._running) + len(self._local.running()) >= self._slots:
                raise NoFreeSlot(
                    f"cannot run {job.workflow_id}/{job.node}: all {self._slots} slots are busy"
                )
            self._running[job.token] = job
        try:
            self._send(supervisor.job_to_line(job), env=True)
        except SupervisorUnavailable:
            with self._lock:
                self._running.pop(job.token, None)
            raise

    def stop(self, token: str, grace: float | None = None) -> None:
        if token in self._local.running():
            self._local.stop(token)
            return
        with self._lock:
            if token not in self._running:
                return
        line = {"op": "stop", "token": token, "grace": self._grace if grace is None else grace}
        try:
            self._send(json.dumps(line).encode() + b"\n")
        except SupervisorUnavailable as exc:
            log.warning("cannot stop %s: %s", token, exc)

    def abandon(self, tokens: list[str]) -> None:
        """Not adopted means not running under the supervisor: nothing to stop here."""

    def adopt(self, owner: str, orphans: Sequence[Orphan]) -> tuple[list[str], list[JobResult]]:
        """Watch a dead scheduler's attempts: those still running report to us from now on;
        those that ended meanwhile are returned with their recorded outcome."""
        del owner  # one supervisor per data directory: it knows every scheduler's attempts
        if not orphans:
            return [], []
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            for orphan in orphans:  # registered first: a result may come before the answer
                self._running.setdefault(
                    orphan.token,
                    Job(orphan.workflow_id, orphan.node, orphan.token, "task", log_path=orphan.log),
                )
        request = {"op": "adopt", "id": ident, "tokens": [o.token for o in orphans]}
        try:
            self._send(json.dumps(request).encode() + b"\n")
            with self._lock:
                ok = self._answered.wait_for(lambda: ident in self._answers, ADOPT_TIMEOUT)
                running = set(self._answers.pop(ident, [])) if ok else set()
        except SupervisorUnavailable as exc:
            log.warning("cannot adopt attempts: %s", exc)
            running = set()
        finished: list[JobResult] = []
        adopted: list[str] = []
        for orphan in orphans:
            if orphan.token in running:
                adopted.append(orphan.token)
                continue
            with self._lock:
                known = self._running.pop(orphan.token, None) is not None
            # Ended while nobody watched (or just now: its result then also came by the socket
            # and was delivered; a second copy is a stale duplicate the core ignores).
            result = supervisor.read_exit(orphan.log, orphan.workflow_id, orphan.node, orphan.token)
            if result is not None and known:
                finished.append(result)
        return adopted, finished

    def forget(self, tokens: Sequence[str]) -> None:
        """Adopted attempts that another scheduler took first: their results are not ours."""
        with self._lock:
            for token in tokens:
                self._running.pop(token, None)

    def free_slots(self) -> int:
        with self._lock:
            return self._slots - len(self._running) - len(self._local.running())

    def running(self) -> list[str]:
        with self._lock:
            return [*self._running, *self._local.running()]

    def detach(self, grace: float) -> None:
        """Leave without stopping anything: the supervisor keeps our commands running (for the
        orphan grace) and records their exits beside their logs, for the next scheduler of
        this data directory to adopt (an upgrade, a restart)."""
        with self._lock:
            self._closed = True
        self._local.close(grace)  # email sends in progress here finish
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self, grace: float) -> None:
        """Refuse new jobs, stop ours and wait (bounded) for their results."""
        with self._lock:
            self._closed = True
            tokens = list(self._running)
        for token in tokens:
            self.stop(token, grace)
        self._local.close(grace)
        deadline = time.monotonic() + grace + 5.0
        with self._lock:
            # (called from a result callback, that delivery is our caller's own)
            own = 1 if threading.current_thread() is self._reader else 0
            self._answered.wait_for(
                lambda: not self._running and self._delivering <= own,
                max(0.0, deadline - time.monotonic()),
            )
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    # -- the connection ------------------------------------------------------------------------

    def _send(self, line: bytes, env: bool = False) -> None:
        with self._send_lock:
            for attempt in (1, 2):
                sock = self._sock
                try:
                    if sock is None:
                        raise OSError("not connected")
                    if env:
                        current = _environ()
                        if current != self._env:
                            sock.sendall(self._env_line(current))
                            self._env = current
                    sock.sendall(line)
                    return
                except OSError as exc:
                    if attempt == 2:
                        raise SupervisorUnavailable(
                            f"the supervisor is unreachable: {exc}"
                        ) from exc
                    self._reconnect()

    def _env_line(self, env: dict[bytes, bytes]) -> bytes:
        text = {os.fsdecode(k): os.fsdecode(v) for k, v in env.items()}
        message = {"op": "env", "env": text, "orphan_grace": self._orphan_grace}
        return json.dumps(message).encode() + b"\n"

    def _reconnect(self) -> None:
        """The supervisor went away (killed?): a new one is started; what ran under the old
        one is lost (reported so, to be retried) unless it recorded its exit."""
        log.warning("lost the supervisor; reconnecting")
        old = self._sock
        self._sock = None
        if old is not None:
            with contextlib.suppress(OSError):
                old.close()
        self._connect(locked=True)

    def _connect(self, locked: bool = False) -> None:
        path = supervisor.socket_path(self._data_dir)
        deadline = time.monotonic() + CONNECT_TIMEOUT
        spawned_at = -1.0
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(path))
                break
            except OSError as exc:
                sock.close()
                now = time.monotonic()
                if now > deadline:
                    why = f"cannot start the supervisor ({path}): {exc}"
                    raise SupervisorUnavailable(why) from exc
                if now - spawned_at > 2.0:
                    _spawn(self._data_dir)
                    spawned_at = now
                time.sleep(0.02)
        self._sock = sock
        env = _environ()
        if locked:
            sock.sendall(self._env_line(env))
        else:
            with self._send_lock:
                sock.sendall(self._env_line(env))
        self._env = env
        with self._lock:
            tokens = list(self._running)
        self._reader = threading.Thread(
            target=self._read, args=(sock,), name="storm-supervised", daemon=True
        )
        self._reader.start()
        if tokens:  # after a reconnect: whatever the new supervisor does not run is lost
            self._recover(sock, tokens)

    def _recover(self, sock: socket.socket, tokens: list[str]) -> None:
        with self._lock:
            self._next_id += 1
            ident = self._next_id
        sock.sendall(json.dumps({"op": "adopt", "id": ident, "tokens": tokens}).encode() + b"\n")
        threading.Thread(target=self._settle, args=(ident, tokens), daemon=True).start()

    def _settle(self, ident: int, tokens: list[str]) -> None:
        with self._lock:
            self._answered.wait_for(lambda: ident in self._answers, ADOPT_TIMEOUT)
            running = set(self._answers.pop(ident, []))
            jobs = [self._running.pop(t) for t in tokens if t not in running and t in self._running]
        for job in jobs:
            result = supervisor.read_exit(job.log_path, job.workflow_id, job.node, job.token)
            if result is None:
                now = time.time()
                result = JobResult(
                    job.workflow_id, job.node, job.token, False, None, "supervisor lost", now, now,
                    lost=True,
                )  # fmt: skip
            self._deliver(result)

    def _read(self, sock: socket.socket) -> None:
        try:
            with sock.makefile("rb") as lines:
                for line in lines:
                    try:
                        message = json.loads(line)
                        if message.get("op") == "result":
                            self._result(message)
                        elif message.get("op") == "adopted":
                            with self._lock:
                                self._answers[int(message["id"])] = list(message["tokens"])
                                self._answered.notify_all()
                    except (ValueError, KeyError, TypeError) as exc:
                        log.warning("bad message from the supervisor: %s", exc)
        except OSError:
            pass
        with self._lock:
            closed = self._closed
            current = self._sock is sock
        if not closed and current:  # the supervisor died: reconnect now, not at the next send
            with self._send_lock:
                if self._sock is sock:
                    try:
                        self._reconnect()
                    except SupervisorUnavailable as exc:
                        log.error("%s", exc)

    def _result(self, message: dict[str, object]) -> None:
        token = str(message["token"])
        with self._lock:
            if self._running.pop(token, None) is None:
                return  # not ours (forgotten), or reported already
            self._delivering += 1
        try:
            self._deliver(
                JobResult(
                    str(message["workflow_id"]),
                    str(message["node"]),
                    token,
                    bool(message["ok"]),
                    message["exit_code"],  # type: ignore[arg-type]
                    message["error"],  # type: ignore[arg-type]
                    float(message["started_at"]),  # type: ignore[arg-type]
                    float(message["ended_at"]),  # type: ignore[arg-type]
                )
            )
        finally:  # close() returns only once every result is in the scheduler's hands
            with self._lock:
                self._delivering -= 1
                self._answered.notify_all()

    def _deliver(self, result: JobResult) -> None:
        try:
            self._on_result(result)
        except Exception:
            log.exception("on_result failed for %s", result.token)


def _spawn(data_dir: Path) -> None:
    """Start the supervisor in a session of its own (it outlives us; Ctrl-C does not reach it)."""
    run_dir = data_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "supervisor.log", "ab") as out:
        subprocess.Popen(
            [sys.executable, "-m", "stormflow.engine.supervisor", str(data_dir)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
