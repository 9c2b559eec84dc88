"""Runs jobs on this machine: one worker thread per job, each command in its own process group.

Process groups matter on a render farm: renderers fork helpers (license checkers, per-frame
subprocesses), and stopping only the direct child would leave them burning cores. Every command is
started with start_new_session=True, so its pid is also its group id and one killpg reaches all of
its descendants that did not deliberately detach.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from stormflow.engine import orphans
from stormflow.engine.email import EmailSender
from stormflow.engine.executor import STOPPED, ExecutorError, NoFreeSlot, ResultCallback
from stormflow.engine.jobs import Job, JobResult

log = logging.getLogger(__name__)

_LABEL_MAX = 120  # keeps a command inside a one-line error even when it is a long script


class _Attempt:
    """Mutable state of one running job, shared by its worker, stop() and the timers."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None  # the command running right now
        self.stop_reason: str | None = None  # set by stop(), close() or the max_seconds timer
        self.finished = False  # once set, the outcome is final and stop() is a no-op
        self.timers: list[threading.Timer] = []
        self.thread: threading.Thread | None = None


class LocalExecutor:
    """Executor running jobs as local subprocesses (and email jobs through an EmailSender)."""

    def __init__(
        self,
        on_result: ResultCallback,
        slots: int | None = None,
        grace: float = 5.0,
        email_sender: EmailSender | None = None,
        pid_dir: Path | None = None,
    ) -> None:
        if slots is None:
            slots = os.cpu_count() or 1
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self._on_result = on_result
        self._slots = slots
        self._grace = grace
        self._email_sender = email_sender or EmailSender.from_env()
        # Where running commands are recorded, so a successor can reap them if we die.
        self._pid_dir = pid_dir
        self._lock = threading.Lock()
        self._attempts: dict[str, _Attempt] = {}
        self._closed = False

    # -- the Executor interface ----------------------------------------------------------------

    def submit(self, job: Job) -> None:
        attempt = _Attempt(job)
        thread = threading.Thread(
            target=self._run, args=(attempt,), name=f"storm-job-{job.node}", daemon=True
        )
        attempt.thread = thread
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
        try:
            thread.start()
        except RuntimeError:  # the OS refused a thread: give the slot back, let the caller know
            with self._lock:
                del self._attempts[job.token]
            raise

    def stop(self, token: str) -> None:
        with self._lock:
            attempt = self._attempts.get(token)
        if attempt is not None:
            self._terminate(attempt, STOPPED, self._grace)

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
        for attempt in attempts:
            self._terminate(attempt, STOPPED, grace)
        # The margin covers writing footers and an email send that cannot be interrupted.
        deadline = time.monotonic() + grace + 5.0
        for attempt in attempts:
            if attempt.thread is not None:
                attempt.thread.join(timeout=max(0.0, deadline - time.monotonic()))

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
                # Between commands or sending an email: the worker checks stop_reason before
                # starting anything else.
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

    # -- the worker ------------------------------------------------------------------------------

    def _run(self, attempt: _Attempt) -> None:
        job = attempt.job
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
        try:
            if job.kind == "task":
                exit_code, error = self._run_commands(attempt)
            elif job.kind == "email":
                exit_code, error = None, self._send_email(attempt)
            else:
                exit_code, error = None, f"unknown job kind {job.kind!r}"
        except Exception as exc:  # a bug here must still produce a result, or the node hangs
            log.exception("job %s/%s (%s) crashed", job.workflow_id, job.node, job.token)
            exit_code, error = None, f"executor error: {type(exc).__name__}: {exc}"
        elapsed = time.monotonic() - began

        with attempt.lock:
            attempt.finished = True
            stop_reason = attempt.stop_reason
            timers = list(attempt.timers)
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
        try:
            self._on_result(result)
        except Exception:
            log.exception("on_result failed for %s/%s (%s)", job.workflow_id, job.node, job.token)

    def _run_commands(self, attempt: _Attempt) -> tuple[int | None, str | None]:
        """Run the commands in series; returns (last exit code, error or None)."""
        job = attempt.job
        if job.cwd is not None:
            try:
                os.makedirs(job.cwd, exist_ok=True)
            except OSError as exc:
                return None, f"could not create working directory {job.cwd}: {_os_error(exc)}"
        logfile: BinaryIO | None = None
        if job.log_path is not None:
            try:
                parent = os.path.dirname(job.log_path)
                if parent:
                    os.makedirs(parent, exist_ok=True)
                # Unbuffered append: our header lines and the children's output interleave in order.
                logfile = open(job.log_path, "ab", buffering=0)  # noqa: SIM115 - closed below
            except OSError as exc:
                return None, f"could not open log {job.log_path}: {_os_error(exc)}"
        try:
            return self._run_series(attempt, logfile)
        finally:
            if logfile is not None:
                logfile.close()

    def _run_series(
        self, attempt: _Attempt, logfile: BinaryIO | None
    ) -> tuple[int | None, str | None]:
        job = attempt.job
        # STORM_ATTEMPT lets a successor verify a recorded process group before killing it.
        env = {**os.environ, **job.env, "STORM_ATTEMPT": job.token}
        total = len(job.commands)
        exit_code: int | None = None
        for number, command in enumerate(job.commands, start=1):
            if isinstance(command, str):
                argv = ["/bin/sh", "-c", command]
                label = _short(command)
                shown = f"(shell) {command}"
            else:
                argv = list(command)
                label = _short(shlex.join(argv))
                shown = shlex.join(argv)
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
            pidfile = self._record(job.token, proc.pid)
            exit_code = proc.wait()
            with attempt.lock:
                attempt.proc = None
                # Background processes the command left behind must not outlive its slot.
                _signal_group(proc.pid, signal.SIGKILL)
                stop_reason = attempt.stop_reason
            if pidfile is not None:
                pidfile.unlink(missing_ok=True)
            duration = time.monotonic() - began
            if exit_code < 0:
                outcome = f"killed by signal {_signal_name(-exit_code)}"
            else:
                outcome = f"exited with code {exit_code}"
            why = f" ({stop_reason})" if stop_reason else ""  # tells wranglers who killed it
            _write(logfile, f"=== [{_now()}] {which} {outcome} after {duration:.2f}s{why}\n")
            if exit_code != 0:
                return exit_code, f"{which} `{label}` {outcome}"
        return exit_code, None

    def _record(self, token: str, pgid: int) -> Path | None:
        if self._pid_dir is None:
            return None
        try:
            return orphans.record(self._pid_dir, token, pgid)
        except OSError as exc:  # bookkeeping only: the command runs regardless
            log.warning("cannot record process group of %s: %s", token, exc)
            return None

    def _send_email(self, attempt: _Attempt) -> str | None:
        job = attempt.job
        if job.email is None:
            return "email job has no email to send"
        with attempt.lock:
            if attempt.stop_reason is not None:
                return None  # _run reports the stop reason
        try:
            self._email_sender.send(job.email)
        except Exception as exc:
            return str(exc) or type(exc).__name__
        return None


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:  # the whole group is already gone
        pass
    except PermissionError:  # a member changed user (setuid helper): nothing more we can do
        log.warning("cannot signal process group %d with %s", pgid, signum.name)


def _write(logfile: BinaryIO | None, text: str) -> None:
    if logfile is not None:
        logfile.write(text.encode("utf-8", "replace"))


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
