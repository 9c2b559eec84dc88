"""Runs jobs on this machine: a pool of worker threads, each command in its own process group.

Process groups matter on a render farm: renderers fork helpers (license checkers, per-frame
subprocesses), and stopping only the direct child would leave them burning cores. Every command is
started with start_new_session=True, so its pid is also its group id and one killpg reaches all of
its descendants that did not deliberately detach. (On CPython 3.11 that still takes the vfork fast
path of _posixsubprocess; process_group=0 measured no faster.)

Trivial commands run at thousands per minute, so the per-job path avoids what it can: worker
threads are started once per slot and reused, the child environment is copied from os.environ's
bytes, each thread keeps one pid file open (see orphans.PidFile), and directories are only
created when opening a file in them fails.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from stormflow.engine import orphans
from stormflow.engine.executor import STOPPED, ExecutorError, NoFreeSlot, ResultCallback
from stormflow.engine.jobs import Job, JobResult
from stormflow.kinds import ActionContext, get_kind, runs
from stormflow.kinds.base import Action
from stormflow.kinds.email import EmailSender
from stormflow.paths import PRIVATE_DIR, PRIVATE_FILE

log = logging.getLogger(__name__)

_LABEL_MAX = 120  # keeps a command inside a one-line error even when it is a long script
_IDLE_SECONDS = 30.0  # a worker thread left without work this long exits (one is started anew)
_LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC  # what open(path, "ab") uses


def _environ() -> dict[bytes, bytes]:
    """A snapshot of this process's environment, encoded as Popen would encode it.

    Going through os.environ decodes every item in Python code, and Popen encodes them all back.
    On POSIX its private `_data` is the bytes dict behind it (and behind os.environb), always
    current: copying it is one C-level call. Should that ever not hold (another platform, a test
    replacing os.environ by a plain dict), take the public route.
    """
    data = getattr(os.environ, "_data", None)
    if os.name == "posix" and type(data) is dict:
        return data.copy()
    return {os.fsencode(k): os.fsencode(v) for k, v in os.environ.items()}


class _Attempt:
    """Mutable state of one job, shared by its worker, stop() and the timers."""

    __slots__ = ("env", "finished", "job", "lock", "proc", "stop_reason", "timers")

    def __init__(self, job: Job, env: dict[bytes, bytes] | None) -> None:
        self.job = job
        self.env = env  # the environment when it was submitted (task jobs only)
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None  # the command running right now
        self.stop_reason: str | None = None  # set by stop(), close() or the max_seconds timer
        self.finished = False  # once set, the outcome is final and stop() is a no-op
        self.timers: list[threading.Timer] = []


#: `executor` is set while a worker thread of that executor is in its on_result callback.
_reporting = threading.local()


class _Worker:
    """A pool thread; `wake` is held while it waits and released by whoever hands it a job."""

    __slots__ = ("attempt", "pidfile", "thread", "wake")

    def __init__(self, attempt: _Attempt, pidfile: orphans.PidFile | None) -> None:
        self.attempt: _Attempt | None = attempt
        self.pidfile = pidfile  # where this thread records the command it runs
        self.wake = threading.Lock()
        self.wake.acquire()
        self.thread: threading.Thread | None = None


class LocalExecutor:
    """Executor running jobs as local subprocesses (and email jobs through an EmailSender).

    Up to `slots` worker threads are started as jobs arrive, reused, and end after idling for
    _IDLE_SECONDS. A job can find all of them busy only while one is past its job (its slot
    released, in or near its on_result call): it is queued, and that thread runs it next. A
    job submitted from within a worker's on_result call is queued for that worker likewise.
    """

    def __init__(
        self,
        on_result: ResultCallback,
        slots: int | None = None,
        grace: float = 5.0,
        email_sender: EmailSender | None = None,
        pid_dir: Path | None = None,
        services: Mapping[str, Any] | None = None,
    ) -> None:
        if slots is None:
            slots = os.cpu_count() or 1
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self._on_result = on_result
        self._slots = slots
        self._grace = grace
        self._email_sender = email_sender or EmailSender.from_env()
        # Shared means action kinds look up by name (the uploads' ledger and hash cache...)
        self._services: dict[str, Any] = {**(services or {}), "email_sender": self._email_sender}
        # Where running commands are recorded, so a successor can reap them if we die.
        self._pid_dir = pid_dir
        self._lock = threading.Lock()  # guards everything below
        self._attempts: dict[str, _Attempt] = {}  # submitted, not yet reported
        self._closed = False
        self._workers: set[_Worker] = set()
        self._idle: list[_Worker] = []  # waiting for a job; the last one in is woken first
        self._queued: deque[_Attempt] = deque()  # taken by workers before they go idle
        self._started = 0  # worker threads ever started, to name them

    # -- the Executor interface ----------------------------------------------------------------

    def submit(self, job: Job, environ: dict[bytes, bytes] | None = None) -> None:
        """Run the job; its commands get `environ` (default: this process's environment now)
        under the job's own env."""
        commands = runs(job.kind) == "commands"
        if commands:
            environ = _environ() if environ is None else environ.copy()
        attempt = _Attempt(job, environ if commands else None)
        with self._lock:
            if self._closed:
                raise ExecutorError(f"cannot run {job.workflow_id}/{job.node}: executor is closed")
            if job.token in self._attempts:
                raise ExecutorError(f"attempt {job.token} of {job.node} is already running")
            if len(self._attempts) >= self._slots:
                raise NoFreeSlot(
                    f"cannot run {job.workflow_id}/{job.node}: all {self._slots} slots are busy"
                )
            self._attempts[job.token] = attempt
            if getattr(_reporting, "executor", None) is self and not self._queued:
                # Submitted by a worker's own result callback (a chain's next task): that
                # worker runs it as soon as the callback returns, no other thread woken.
                self._queued.append(attempt)
            elif self._idle:
                worker = self._idle.pop()
                worker.attempt = attempt
                worker.wake.release()
            elif len(self._workers) < self._slots:
                try:
                    self._start_worker(attempt)
                except RuntimeError:  # the OS refused a thread: give the slot back
                    del self._attempts[job.token]
                    raise
            else:
                # Every worker is busy, one of them past its job: it takes this one next.
                self._queued.append(attempt)

    def stop(self, token: str, grace: float | None = None) -> None:
        with self._lock:
            attempt = self._attempts.get(token)
        if attempt is not None:
            self._terminate(attempt, STOPPED, self._grace if grace is None else grace)

    def abandon(self, tokens: list[str]) -> None:
        """A dead scheduler's local commands are reaped through its pid files (orphans)."""

    def free_slots(self) -> int:
        with self._lock:
            return self._slots - len(self._attempts)

    def running(self) -> list[str]:
        with self._lock:
            return list(self._attempts)

    def close(self, grace: float) -> None:
        """Refuse new jobs, stop the running ones and wait (bounded) for their results."""
        with self._lock:
            self._closed = True
            attempts = list(self._attempts.values())
            for worker in self._idle:  # woken without a job, they exit
                worker.wake.release()
            self._idle.clear()
            threads = [w.thread for w in self._workers if w.thread is not None]
        for attempt in attempts:
            self._terminate(attempt, STOPPED, grace)
        # The margin covers writing footers and an email send that cannot be interrupted.
        deadline = time.monotonic() + grace + 5.0
        current = threading.current_thread()  # close() may be called from an on_result callback
        for thread in threads:
            if thread is not current:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))

    # -- the worker threads ----------------------------------------------------------------------

    def _start_worker(self, attempt: _Attempt) -> None:
        """Start a pool thread for `attempt`; called with self._lock held."""
        pidfile = None if self._pid_dir is None else orphans.PidFile(self._pid_dir)
        worker = _Worker(attempt, pidfile)
        self._started += 1
        worker.thread = threading.Thread(
            target=self._work, args=(worker,), name=f"storm-worker-{self._started}", daemon=True
        )
        worker.thread.start()
        self._workers.add(worker)

    def _work(self, worker: _Worker) -> None:
        try:
            attempt = worker.attempt
            while attempt is not None:
                worker.attempt = None
                try:
                    self._run(attempt, worker.pidfile)
                except Exception:  # _run reports its own failures: this would be a bug in it
                    log.exception("worker failed on %s", attempt.job.token)
                attempt = self._next(worker)
        finally:
            if worker.pidfile is not None:
                try:
                    worker.pidfile.close()
                except OSError as exc:
                    log.warning("cannot remove %s: %s", worker.pidfile.path, exc)
            # Normally done by _next already; not if a BaseException ended the thread.
            with self._lock:
                self._workers.discard(worker)
                if worker in self._idle:
                    self._idle.remove(worker)
                if self._queued and len(self._workers) < self._slots:
                    self._start_worker(self._queued[0])
                    self._queued.popleft()

    def _next(self, worker: _Worker) -> _Attempt | None:
        """Wait for this worker's next job; None once it has left the pool (and should exit)."""
        with self._lock:
            if self._queued:
                return self._queued.popleft()
            if self._closed:
                self._workers.discard(worker)
                return None
            self._idle.append(worker)
        woken = worker.wake.acquire(timeout=_IDLE_SECONDS)
        with self._lock:
            if not woken and worker.attempt is not None:
                # Handed a job just as the wait timed out: consume that release.
                worker.wake.acquire()
            if worker.attempt is None:  # idle for too long, or woken by close()
                if worker in self._idle:
                    self._idle.remove(worker)
                self._workers.discard(worker)
            return worker.attempt

    # -- stopping --------------------------------------------------------------------------------

    def _terminate(self, attempt: _Attempt, reason: str, grace: float) -> None:
        """SIGTERM the running command's group now and SIGKILL it if it outlives `grace`."""
        with attempt.lock:
            if attempt.finished:
                return
            if attempt.stop_reason is None:
                attempt.stop_reason = reason
            proc = attempt.proc
            if proc is None:
                # Queued, between commands or sending an email: the worker checks stop_reason
                # before starting anything else.
                return
            _signal_group(proc.pid, signal.SIGTERM)
            timer = threading.Timer(grace, self._escalate, args=(attempt, proc))
            timer.daemon = True
            attempt.timers.append(timer)
            timer.start()

    @staticmethod
    def _escalate(attempt: _Attempt, proc: subprocess.Popen[bytes]) -> None:
        with attempt.lock:
            # Only while that command is still running: once reaped, its group id may be reused.
            if attempt.proc is proc:
                _signal_group(proc.pid, signal.SIGKILL)

    # -- one job ---------------------------------------------------------------------------------

    def _run(self, attempt: _Attempt, pidfile: orphans.PidFile | None) -> None:
        job = attempt.job
        threading.current_thread().name = f"storm-job-{job.node}"
        started_at = time.time()
        began = time.monotonic()
        if job.max_seconds is not None:
            reason = f"timed out: still running after max_seconds {job.max_seconds:g}"
            timer = threading.Timer(
                job.max_seconds, self._terminate, args=(attempt, reason, self._grace)
            )
            timer.daemon = True
            with attempt.lock:
                attempt.timers.append(timer)
            timer.start()
        exit_code: int | None
        error: str | None
        try:
            kind = get_kind(job.kind)
            if kind is None:
                exit_code, error = None, f"unknown job kind {job.kind!r}"
            elif kind.runs == "commands":
                exit_code, error = self._run_commands(attempt, pidfile)
            elif kind.action is not None:
                exit_code, error = None, self._run_action(attempt, kind.action)
            else:
                exit_code, error = None, f"kind {job.kind!r} does not run on an executor"
        except Exception as exc:  # a bug here must still produce a result, or the node hangs
            log.exception("job %s/%s (%s) crashed", job.workflow_id, job.node, job.token)
            exit_code, error = None, f"executor error: {type(exc).__name__}: {exc}"
        elapsed = time.monotonic() - began

        with attempt.lock:
            attempt.finished = True
            stop_reason = attempt.stop_reason
            timers = attempt.timers
        for timer in timers:
            timer.cancel()
        if stop_reason is not None:
            error = stop_reason
        elif error is None and job.min_seconds is not None and elapsed < job.min_seconds:
            error = f"finished in {elapsed:.1f}s, below min_seconds {job.min_seconds:g}"
        result = JobResult(
            workflow_id=job.workflow_id,
            node=job.node,
            token=job.token,
            ok=error is None,
            exit_code=exit_code,
            error=error,
            started_at=started_at,
            ended_at=time.time(),
        )
        # Free the slot before reporting, so the callback can submit the next job at once.
        with self._lock:
            del self._attempts[job.token]
        _reporting.executor = self
        try:
            self._on_result(result)
        except Exception:
            log.exception("on_result failed for %s/%s (%s)", job.workflow_id, job.node, job.token)
        finally:
            _reporting.executor = None

    def _run_commands(
        self, attempt: _Attempt, pidfile: orphans.PidFile | None
    ) -> tuple[int | None, str | None]:
        """Run the commands in series; returns (last exit code, error or None)."""
        job = attempt.job
        if job.cwd is not None and not os.path.isdir(job.cwd):
            try:
                os.makedirs(job.cwd, exist_ok=True)
            except OSError as exc:
                return None, f"could not create working directory {job.cwd}: {_os_error(exc)}"
        logfile: int | None = None
        if job.log_path is not None:
            try:
                logfile = _open_log(job.log_path)
            except OSError as exc:
                return None, f"could not open log {job.log_path}: {_os_error(exc)}"
        try:
            return self._run_series(attempt, logfile, pidfile)
        finally:
            if logfile is not None:
                os.close(logfile)

    def _run_series(
        self, attempt: _Attempt, logfile: int | None, pidfile: orphans.PidFile | None
    ) -> tuple[int | None, str | None]:
        job = attempt.job
        env = attempt.env
        assert env is not None  # submit takes it for every task job
        for key, value in job.env.items():
            env[os.fsencode(key)] = os.fsencode(value)
        # STORM_ATTEMPT lets a successor verify a recorded process group before killing it.
        env[b"STORM_ATTEMPT"] = os.fsencode(job.token)
        total = len(job.commands)
        exit_code: int | None = None
        for number, command in enumerate(job.commands, start=1):
            if isinstance(command, str):
                argv = ["/bin/sh", "-c", command]
                text = command
                shown = f"(shell) {command}"
            else:
                argv = list(command)
                text = shown = shlex.join(argv)
            which = f"command {number}/{total}"
            if not argv:
                return exit_code, f"{which} is empty"
            _write(logfile, f"=== [{_now()}] {job.node} attempt {job.token} {which}: {shown}\n")
            began = time.monotonic()
            with attempt.lock:
                if attempt.stop_reason is not None:
                    _write(logfile, f"=== [{_now()}] {which} not started: {attempt.stop_reason}\n")
                    return exit_code, None  # _run reports the stop reason
                try:
                    proc = subprocess.Popen(
                        argv,
                        executable=_executable(argv[0], env),
                        stdin=subprocess.DEVNULL,
                        stdout=logfile if logfile is not None else subprocess.DEVNULL,
                        stderr=subprocess.STDOUT,
                        cwd=job.cwd,
                        env=env,
                        start_new_session=True,  # own process group: see the module docstring
                    )
                except OSError as exc:
                    error = f"{which} could not start: {exc.filename or argv[0]}: {_os_error(exc)}"
                    _write(logfile, f"=== [{_now()}] {error}\n")
                    return None, error
                attempt.proc = proc
            recorded = pidfile is not None and _record(pidfile, job.token, proc.pid)
            exit_code = proc.wait()
            with attempt.lock:
                attempt.proc = None
                # Background processes the command left behind must not outlive its slot.
                _signal_group(proc.pid, signal.SIGKILL)
                stop_reason = attempt.stop_reason
            if recorded:
                _forget(pidfile)
            duration = time.monotonic() - began
            if exit_code < 0:
                outcome = f"killed by signal {_signal_name(-exit_code)}"
            else:
                outcome = f"exited with code {exit_code}"
            why = f" ({stop_reason})" if stop_reason else ""  # tells wranglers who killed it
            _write(logfile, f"=== [{_now()}] {which} {outcome} after {duration:.2f}s{why}\n")
            if exit_code != 0:
                return exit_code, f"{which} `{_short(text)}` {outcome}"
        return exit_code, None

    def _run_action(self, attempt: _Attempt, action: Action) -> str | None:
        """An action kind's attempt (email...): its one line goes to the log either way."""
        job = attempt.job
        with attempt.lock:
            if attempt.stop_reason is not None:
                return None  # _run reports the stop reason
        ctx = ActionContext(
            workflow_id=job.workflow_id,
            node=job.node,
            token=job.token,
            log_path=job.log_path,
            services=self._services,
            stopped=lambda: attempt.stop_reason is not None,
        )
        try:
            done = action(job.payload, ctx)
        except Exception as exc:
            error = str(exc) or type(exc).__name__
            self._log_line(job.log_path, error)
            return error
        self._log_line(job.log_path, done)  # e.g. where the message went: storm run shows it
        return None

    @staticmethod
    def _log_line(path: str | None, text: str) -> None:
        if path is None:
            return
        try:
            logfile = _open_log(path)
        except OSError:
            return  # the result still says it; a log is a convenience here
        try:
            _write(logfile, f"=== [{_now()}] {text}\n")
        finally:
            os.close(logfile)


#: (command name, PATH) -> (absolute program or None, when resolved); see _executable.
_RESOLVED: dict[tuple[str, bytes | None], tuple[str | None, float]] = {}
_RESOLVE_FOR = 5.0  # seconds a resolution is reused: a tool installed meanwhile is seen soon


def _executable(name: str, env: dict[bytes, bytes]) -> str | None:
    """The program a PATH search for `name` finds, searched here rather than in the child.

    CPython 3.11 holds the GIL while the vfork child runs up to its successful exec, and
    the child searches PATH by trying execve in every directory before the right one (nine
    failures for `true` on this machine's PATH, ~0.1 ms): every thread of the scheduler
    waits meanwhile. Names with a slash, and names not found or found through a relative
    PATH entry, are left to the child's own search (and its error message).
    """
    if not name or "/" in name:
        return None
    path = env.get(b"PATH")
    key = (name, path)
    now = time.monotonic()
    hit = _RESOLVED.get(key)
    if hit is not None and now - hit[1] < _RESOLVE_FOR:
        return hit[0]
    found = shutil.which(name, path=os.defpath if path is None else os.fsdecode(path))
    program = found if found is not None and os.path.isabs(found) else None
    _RESOLVED[key] = (program, now)
    return program


def _open_log(path: str) -> int:
    """Open for unbuffered append (headers and the children's output interleave in order)."""
    try:
        return os.open(path, _LOG_FLAGS, PRIVATE_FILE)
    except (FileNotFoundError, NotADirectoryError):
        parent = os.path.dirname(path)
        if not parent:
            raise
        os.makedirs(parent, PRIVATE_DIR, exist_ok=True)  # raises what is wrong with the parent
        return os.open(path, _LOG_FLAGS, PRIVATE_FILE)


def _record(pidfile: orphans.PidFile, token: str, pgid: int) -> bool:
    try:
        pidfile.record(token, pgid)
    except (OSError, ValueError) as exc:  # bookkeeping only: the command runs regardless
        log.warning("cannot record process group of %s: %s", token, exc)
        return False
    return True


def _forget(pidfile: orphans.PidFile | None) -> None:
    if pidfile is not None:
        try:
            pidfile.clear()
        except OSError as exc:  # harmless: reap_dir checks the group still runs that attempt
            log.warning("cannot clear %s: %s", pidfile.path, exc)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:  # the whole group is already gone
        pass
    except PermissionError:  # a member changed user (setuid helper): nothing more we can do
        log.warning("cannot signal process group %d with %s", pgid, signum.name)


def _write(logfile: int | None, text: str) -> None:
    if logfile is not None:
        os.write(logfile, text.encode("utf-8", "replace"))


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def _short(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    if len(line) > _LABEL_MAX or line != text.strip():
        return line[:_LABEL_MAX].rstrip() + "..."
    return line


def _os_error(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)
