"""Node statuses, their superstates and the allowed-actions table (spec: Statuses)."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    OPEN = "open"
    HOLDING = "holding"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELED = "canceled"


#: Status by stored value: what Status(value) returns, without Enum's call machinery (~1 µs,
#: dozens of times per task on the scheduler's path). A KeyError for an unknown value.
STATUS_OF: dict[str, Status] = {s.value: s for s in Status}


class Action(StrEnum):
    """Manual actions. retry, revert and replay are updates with a fixed patch rule."""

    HOLD = "hold"
    UNHOLD = "unhold"
    SKIP = "skip"
    CANCEL = "cancel"
    UPDATE = "update"
    RETRY = "retry"
    REVERT = "revert"
    REPLAY = "replay"


START: frozenset[Status] = frozenset({Status.OPEN, Status.HOLDING})
READY: frozenset[Status] = frozenset({Status.SUCCEEDED, Status.SKIPPED})
BAD: frozenset[Status] = frozenset({Status.FAILED, Status.CANCELED})
FINAL: frozenset[Status] = READY | BAD
RETRYABLE: frozenset[Status] = FINAL | {Status.RUNNING}

#: Statuses a node may be submitted in (its "submitted status").
SUBMITTABLE: frozenset[Status] = START

_UPDATES = {Action.UPDATE, Action.REVERT, Action.REPLAY}

#: The allowed-actions table of the spec, extended with the update family
#: (revert and replay are updates, allowed wherever update is; retry only on
#: retryable statuses, per the spec's Decision).
ALLOWED: dict[Status, frozenset[Action]] = {
    Status.OPEN: frozenset({*_UPDATES, Action.HOLD, Action.SKIP}),
    Status.HOLDING: frozenset({*_UPDATES, Action.UNHOLD, Action.SKIP}),
    Status.RUNNING: frozenset({*_UPDATES, Action.RETRY, Action.SKIP, Action.CANCEL}),
    Status.SKIPPED: frozenset({*_UPDATES, Action.RETRY, Action.CANCEL}),
    Status.FAILED: frozenset({*_UPDATES, Action.RETRY, Action.SKIP}),
    Status.CANCELED: frozenset({*_UPDATES, Action.RETRY, Action.SKIP}),
    Status.SUCCEEDED: frozenset({*_UPDATES, Action.RETRY, Action.CANCEL}),
}


def is_allowed(status: Status, action: Action) -> bool:
    return action in ALLOWED[status]


def superstates(status: Status) -> frozenset[str]:
    """The superstate names a status belongs to: start, retryable, final, ready, bad."""
    names = {
        "start": START,
        "retryable": RETRYABLE,
        "final": FINAL,
        "ready": READY,
        "bad": BAD,
    }
    return frozenset(name for name, members in names.items() if status in members)
