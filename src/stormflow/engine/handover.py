"""The pipe between `storm server` and its scheduler child (`storm scheduler --supervised`).

Server -> child, one JSON line per outcome made by the API: what the scheduler would
learn only at its next poll (nodes to examine, attempts to stop at once, attempts to
run), so an action through the API takes effect without waiting. Child -> server, one
JSON line per second: the scheduler's figures for /metrics and /health.

Only what `Scheduler.apply` reads crosses: `check`, `stop` and `start` (node, token,
not_before). The database stays the record: a line lost with a dying child is found
again by the next child's rescan.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from stormflow.core import Attempt, Outcome
from stormflow.engine.scheduler import Scheduler, job_token

log = logging.getLogger(__name__)

#: How often the child reports its figures.
STATS_EVERY = 1.0


def encode(workflow_id: str, outcome: Outcome) -> str | None:
    """One line for the child, or None when the outcome asks nothing of a scheduler."""
    if not (outcome.check or outcome.stop or outcome.start):
        return None
    return (
        json.dumps(
            {
                "workflow": workflow_id,
                "check": sorted(outcome.check),
                "stop": [[node, token] for node, token in outcome.stop],
                "start": [[node, a.number, a.token, a.not_before] for node, a in outcome.start],
            },
            separators=(",", ":"),
        )
        + "\n"
    )


def decode(line: str) -> tuple[str, Outcome]:
    data = json.loads(line)
    workflow_id = str(data["workflow"])
    outcome = Outcome(action="api", actor="api", at=time.time())
    outcome.check = {str(n) for n in data["check"]}
    outcome.stop = [(str(n), str(t)) for n, t in data["stop"]]
    outcome.start = [
        (str(n), Attempt(number=int(num), token=str(t), created_at=0.0, not_before=float(nb)))
        for n, num, t, nb in data["start"]
    ]
    return workflow_id, outcome


class Inbox:
    """The child's side: read hand-overs from `stream` (its stdin) in a thread, apply them on
    the loop's thread (`drain`, the loop's on_tick: `Scheduler.apply` is not thread-safe).
    Stops are done at once from the reading thread (the executor is thread-safe). End of
    input means the server is gone: `on_eof` (stop the scheduler, gracefully)."""

    def __init__(self, scheduler: Scheduler, stream: IO[str], on_eof: Callable[[], None]) -> None:
        self.scheduler = scheduler
        self._stream = stream
        self._on_eof = on_eof
        self._queue: queue.Queue[tuple[str, Outcome]] = queue.Queue()
        self._thread = threading.Thread(target=self._read, name="storm-handover", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            if not line.strip():
                continue
            try:
                workflow_id, outcome = decode(line)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("ignored a malformed hand-over line: %s", exc)
                continue
            for _node, token in outcome.stop:
                self.scheduler.executor.stop(job_token(workflow_id, token))
            self._queue.put((workflow_id, outcome))
            self.scheduler.wake()  # drained after the loop's current step, not its idle wait
        self._on_eof()

    def drain(self) -> None:
        while True:
            try:
                workflow_id, outcome = self._queue.get_nowait()
            except queue.Empty:
                return
            self.scheduler.apply(workflow_id, outcome)


class Reporter:
    """The child's figures, one JSON line on `stream` (its stdout) every STATS_EVERY seconds."""

    def __init__(self, scheduler: Scheduler, stream: IO[str]) -> None:
        self.scheduler = scheduler
        self._stream = stream
        self._next = 0.0

    def figures(self) -> dict[str, Any]:
        executor = self.scheduler.executor
        return self.scheduler.stats.as_dict() | {
            "running": len(executor.running()),
            "free_slots": executor.free_slots(),
        }

    def tick(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + STATS_EVERY
        try:
            self._stream.write(json.dumps({"stats": self.figures()}) + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # the server is gone: the inbox sees end of input too
            pass


def decode_stats(line: str) -> dict[str, Any]:
    """The figures in a child's report line (ValueError if it is not one)."""
    data = json.loads(line)
    if not isinstance(data, dict) or not isinstance(data.get("stats"), dict):
        raise ValueError("not a report line")
    figures: dict[str, Any] = data["stats"]
    return figures
