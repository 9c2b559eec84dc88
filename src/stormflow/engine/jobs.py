"""What the scheduler hands to an executor (a fully rendered attempt) and what comes back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Job:
    """One attempt to run a node, fully rendered by the scheduler."""

    workflow_id: str
    node: str
    token: str  # attempt token: every result carries it back
    kind: str  # a registered kind (kinds/): "task", "email"...
    # Run in series; each is an argv tuple, or a shell line run with /bin/sh -c.
    commands: tuple[tuple[str, ...] | str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # added to os.environ
    cwd: str | None = None  # working directory, created if missing
    log_path: str | None = None  # stdout+stderr of every command appended here
    min_seconds: float | None = None  # finishing sooner than this is a failure
    max_seconds: float | None = None  # running longer is a failure: the process group is killed
    # For "action" kinds: what the kind rendered for this attempt (JSON-able), e.g. the email.
    payload: Mapping[str, Any] = field(default_factory=dict)
    # Where a distributed executor sends it (the node's instance_type); None: the default queue.
    queue: str | None = None


@dataclass(frozen=True)
class JobResult:
    """The outcome of one attempt; `error` is one line saying what went wrong."""

    workflow_id: str
    node: str
    token: str
    ok: bool
    # Of the last command run; -N means killed by signal N (the subprocess convention); None when
    # no command ran (could not start, email jobs).
    exit_code: int | None
    error: str | None
    started_at: float  # time.time() when the attempt started
    ended_at: float
    # The worker vanished (machine gone, heartbeat lapsed): retried at once without using retries.
    lost: bool = False
