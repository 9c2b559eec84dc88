"""`storm server`'s scheduler as a supervised child process (`storm scheduler --supervised`).

The scheduler never shares an interpreter (and its lock) with the API: a burst of
requests or a hundred event streams cannot slow the dispatch of tasks, and a crash
of one cannot take the other down. The child is restarted with backoff when it dies
(a restarted scheduler recovers its dead predecessor's attempts at once, see
`Scheduler._recover_dead_owners`). It runs in its own session, so a terminal's Ctrl-C
reaches the server only, which stops the child with SIGTERM (graceful: attempts are
handed back) after the API. If the server itself dies, the child sees its stdin close
and stops the same way.

Outcomes made by the API go to the child over its stdin (`engine.handover`); its
figures come back on its stdout once a second; its stderr is passed through, the
last lines kept for /health.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any

from stormflow.core import Outcome
from stormflow.engine import handover
from stormflow.metrics import Histogram

log = logging.getLogger(__name__)

#: First restart delay; doubled per quick death, up to MAX_BACKOFF.
BACKOFF = 0.5
MAX_BACKOFF = 30.0
#: A child that ran this long before dying restarts after BACKOFF again.
STABLE_AFTER = 60.0
#: Counters summed over the children (a restarted child starts from zero).
_COUNTERS = ("dispatched", "results", "stale", "lost", "errors", "busy")
#: A live child that has not reported for this long has a loop that does not turn.
STUCK_AFTER = 60.0
_HISTOGRAMS = ("dispatch_seconds", "transaction_seconds")


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class SchedulerProcess:
    """Start, watch, restart and stop the scheduler child. Thread-safe."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        backoff: float = BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        stderr: IO[str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._stderr = stderr if stderr is not None else sys.stderr
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.restarts = 0
        self.last_error: str | None = None
        self.started_at: float | None = None
        self._figures: dict[str, Any] = {}  # the live child's last report
        self._reported = time.monotonic()  # when it came (the loop reports as it turns)
        self._past: dict[str, Any] = {}  # the dead children's totals

    # -- the API's side ------------------------------------------------------------------
    def apply(self, workflow_id: str, outcome: Outcome) -> None:
        """Hand an outcome made by the API to the child (dropped if it is between lives: the
        next child finds the work by its rescan)."""
        line = handover.encode(workflow_id, outcome)
        if line is None:
            return
        with self._lock:
            proc = self._proc
            if proc is None or proc.stdin is None or proc.poll() is not None:
                return
            try:
                proc.stdin.write(line)
                proc.stdin.flush()
            except (OSError, ValueError):
                pass  # it died just now: the supervisor restarts it

    @property
    def alive(self) -> bool:
        proc = self._proc
        return proc is not None and proc.poll() is None

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def stuck(self) -> bool:
        """Alive, but silent for STUCK_AFTER seconds: its loop reports once a second as it
        turns, so a step that never ends shows here."""
        return self.alive and time.monotonic() - self._reported > STUCK_AFTER

    def health(self) -> dict[str, Any]:
        return {
            "alive": self.alive,
            "pid": self.pid,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "started_at": self.started_at,
        }

    def figures(self) -> dict[str, Any]:
        """Counters and histograms summed over every child so far; gauges of the live one."""
        with self._lock:
            live, past = dict(self._figures), dict(self._past)
        out: dict[str, Any] = {}
        for key in _COUNTERS:
            out[key] = int(past.get(key, 0)) + int(live.get(key, 0))
        for key in _HISTOGRAMS:
            total = Histogram()
            for part in (past.get(key), live.get(key)):
                if part:
                    total = total.add(Histogram.from_dict(part))
            out[key] = total
        out["last_error"] = live.get("last_error") or past.get("last_error")
        out["running"] = int(live.get("running", 0)) if self.alive else 0
        out["free_slots"] = int(live.get("free_slots", 0)) if self.alive else 0
        # the live child's only: a new child loads its plugins afresh
        failed = live.get("plugins_failed") if self.alive else None
        out["plugins_failed"] = failed if isinstance(failed, dict) else {}
        return out

    # -- the supervisor ---------------------------------------------------------------
    def start(self) -> None:
        self._spawn()  # the first child starts now: a broken command line shows at once
        self._thread = threading.Thread(
            target=self._supervise, name="storm-supervisor", daemon=True
        )
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=self.env,
            start_new_session=True,  # Ctrl-C in a terminal reaches the server, which stops it
        )
        with self._lock:
            self._proc = proc
            self._figures = {}
            self._reported = time.monotonic()
        self.started_at = time.time()
        return proc

    def _supervise(self) -> None:
        delay = self.backoff
        while True:
            proc = self._proc
            assert proc is not None
            began = time.monotonic()
            tail = self._watch(proc)
            code = proc.wait()
            with self._lock:
                self._keep_totals()
            if self._stopping.is_set():
                return
            lines = " | ".join(tail) if code > 0 else ""  # a crash's message, not a kill's banner
            self.last_error = describe_exit(code) + (f": {lines}" if lines else "")
            log.warning("the scheduler child %d %s; restarting", proc.pid, self.last_error)
            delay = self.backoff if time.monotonic() - began >= STABLE_AFTER else delay
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self.max_backoff)
            try:
                self._spawn()
            except OSError as exc:  # e.g. out of processes: try again later
                self.last_error = f"could not start: {exc}"
                if self._stopping.wait(delay):
                    return
                continue
            self.restarts += 1

    def _watch(self, proc: subprocess.Popen[str]) -> collections.deque[str]:
        """Read the child's figures until it closes stdout; pass its stderr through."""
        tail: collections.deque[str] = collections.deque(maxlen=3)

        def pass_stderr() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                tail.append(line.strip())
                try:
                    self._stderr.write(line)
                    self._stderr.flush()
                except (OSError, ValueError):
                    pass

        errors = threading.Thread(target=pass_stderr, name="storm-scheduler-stderr", daemon=True)
        errors.start()
        assert proc.stdout is not None
        for line in proc.stdout:
            if not line.startswith("{"):
                continue
            try:
                figures = handover.decode_stats(line)
            except ValueError:
                continue
            with self._lock:
                self._figures = figures
                self._reported = time.monotonic()
        errors.join(timeout=5)
        return tail

    def _keep_totals(self) -> None:
        """A dead child's figures join the totals (called with the lock)."""
        for key in _COUNTERS:
            self._past[key] = int(self._past.get(key, 0)) + int(self._figures.get(key, 0))
        for key in _HISTOGRAMS:
            if key in self._figures:
                last = Histogram.from_dict(self._figures[key])
                if key in self._past:
                    last = last.add(Histogram.from_dict(self._past[key]))
                self._past[key] = last.as_dict()
        if self._figures.get("last_error"):
            self._past["last_error"] = self._figures["last_error"]
        self._figures = {}

    def stop(self, timeout: float = 30.0, *, keep_running: bool = False) -> None:
        """SIGTERM to the child (graceful: it stops its commands and hands its attempts
        back), or with `keep_running` SIGUSR1 (it leaves them running for the next server's
        child to adopt); SIGKILL after `timeout`; no restart from here on."""
        self._stopping.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                # SIGTERM first: the end of its input alone means "the server died" to the
                # child, which then leaves its commands running for the next one to adopt
                os.kill(proc.pid, signal.SIGUSR1 if keep_running else signal.SIGTERM)
                proc.wait(timeout=timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                log.warning("the scheduler child %d did not stop; killing it", proc.pid)
                proc.kill()
                proc.wait()
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if self._thread is not None:
            self._thread.join(timeout=10)
