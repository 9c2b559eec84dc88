"""The small interface every executor implements.

Results are delivered through the `on_result` callback given at construction. It is called from
executor threads, exactly once per submitted token (a stopped attempt is reported too, with
ok=False and error "stopped"), and only after the attempt's slot has been released, so the
callback may submit the next job straight away.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from stormflow.engine.jobs import Job, JobResult

ResultCallback = Callable[[JobResult], None]

STOPPED = "stopped"  # the error of an attempt ended by stop() or close()


class ExecutorError(RuntimeError):
    """A job was refused by an executor (no free slot, duplicate token, executor closed)."""


class NoFreeSlot(ExecutorError):
    """submit() was called while every slot was busy; the scheduler checks free_slots() first."""


class Executor(Protocol):
    def submit(self, job: Job) -> None:
        """Start the job without blocking; raises ExecutorError if it cannot be taken."""

    def stop(self, token: str) -> None:
        """Stop that attempt (SIGTERM, SIGKILL after a grace period); unknown tokens are ignored."""

    def free_slots(self) -> int:
        """How many more jobs submit() accepts right now."""

    def running(self) -> list[str]:
        """Tokens of the attempts not yet reported."""

    def close(self, grace: float) -> None:
        """Stop everything, giving each process `grace` seconds before SIGKILL."""

    def abandon(self, tokens: list[str]) -> None:
        """Stop attempts that a dead scheduler sent (not this executor), best effort, before
        they are retried: a lost attempt must not run beside its retry. No result comes."""
