"""The small interface every executor implements.

Results are delivered through the `on_result` callback given at construction. It is called from
executor threads, exactly once per submitted token (a stopped attempt is reported too, with
ok=False and error "stopped"), and only after the attempt's slot has been released, so the
callback may submit the next job straight away.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from stormflow.engine.jobs import Job, JobResult

ResultCallback = Callable[[JobResult], None]

STOPPED = "stopped"  # the error of an attempt ended by stop() or close()


@dataclass(frozen=True)
class Orphan:
    """An attempt a dead scheduler leased, offered to a successor's executor (`adopt`)."""

    token: str  # job token ("<workflow>/<attempt token>")
    workflow_id: str
    node: str
    log: str | None  # the attempt's log path: an outcome recorded meanwhile lies beside it


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


# Optional, found with getattr (executors that cannot adopt leave a dead scheduler's attempts to
# be recorded lost and retried):
#
#     def adopt(self, owner: str, orphans: Sequence[Orphan]) -> tuple[list[str], list[JobResult]]
#         Watch these attempts of the dead `owner`: returns the tokens still running, whose
#         results this executor reports from now on, and the results of those that ended while
#         nobody watched. The others are not known to it (lost).
#     def detach(self, grace: float) -> None
#         Leave without stopping anything: the commands run on (under the supervisor, or on
#         their workers) for the next scheduler to adopt. Executors without it are closed.
#     def forget(self, tokens: Sequence[str]) -> None
#         Adopted attempts another scheduler took first: drop them, report nothing.
