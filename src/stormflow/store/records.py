"""Plain records the store hands out besides the core's own types."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Protocol

from stormflow.core import Attempt, Outcome, Status


class PlannedNodeLike(Protocol):
    """What `Store.submit` needs of a planned node (the spec layer's `PlannedNode` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> Status | str: ...
    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def group(self) -> str | None: ...
    @property
    def frames(self) -> str | None: ...


class UnknownWorkflow(LookupError):
    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"unknown workflow {workflow_id!r}")


@dataclass(frozen=True, slots=True)
class Applied:
    """What `Store.transact` did. `replayed`: the idempotency key was seen; nothing changed."""

    outcome: Outcome | None
    first_seq: int | None  # None when the outcome appended no event
    last_seq: int | None
    response: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class WorkflowRow:
    id: str
    name: str
    metadata: dict[str, Any]
    created_at: float
    archived: bool
    expires_at: float | None
    owner: str | None
    # the summary kept on the row (migration 0004): derived status and nodes per status
    status: str = "succeeded"
    counts: dict[Status, int] = field(default_factory=dict)
    last_seq: int = 0


@dataclass(frozen=True, slots=True)
class NodeRow:
    name: str
    kind: str
    status: Status
    group: str | None
    frames: str | None


@dataclass(frozen=True, slots=True)
class StoredAttempt:
    """An attempt row: the core's attempt plus where it lives and its lease."""

    node: str
    attempt: Attempt
    snapshot: int | None  # None: the node's current run
    lease_owner: str | None
    lease_expires: float | None


@dataclass(frozen=True, slots=True)
class EventRow:
    workflow_id: str
    seq: int
    type: str
    node: str | None
    old: Status | None
    new: Status | None
    actor: str
    at: float
    why: str | None
    caused_by: str | None
    payload: dict[str, Any]
    correlation: str | None
    idempotency_key: str | None


@dataclass(frozen=True, slots=True)
class PendingAttempt:
    workflow_id: str
    node: str
    token: str
    not_before: float


@dataclass(frozen=True, slots=True)
class LimitRow:
    name: str
    capacity: int
    used: int


#: Longest list `summarize` returns; the counts are always complete.
SUMMARY_LIMIT = 1000


def summarize(outcome: Outcome, limit: int = SUMMARY_LIMIT) -> dict[str, Any]:
    """The default answer to an action: what changed, what cascaded, what was refused and why.

    Each list holds at most `limit` items (the first ones, in order): a cascade over
    100,000 nodes answers with 1,000 names and the counts. `counts` has every list's full
    length and `truncated` says whether any was cut.
    """
    cascaded = (c.node for c in outcome.changes if c.why == "cascade")
    answer: dict[str, Any] = {
        "action": outcome.action,
        "changed": list(islice(outcome.nodes, limit)),
        "cascaded": list(islice(cascaded, limit)),
        "ineligible": [
            {"node": i.node, "status": i.status.value, "reason": i.reason}
            for i in islice(outcome.ineligible, limit)
        ],
        "changes": [
            {"node": c.node, "old": c.old.value, "new": c.new.value, "why": c.why}
            | ({"caused_by": c.caused_by} if c.caused_by else {})
            for c in islice(outcome.changes, limit)
        ],
        "stale": outcome.stale,
    }
    counts = {
        "changed": len(outcome.nodes),
        "cascaded": sum(1 for c in outcome.changes if c.why == "cascade"),
        "ineligible": len(outcome.ineligible),
        "changes": len(outcome.changes),
    }
    answer["counts"] = counts
    answer["truncated"] = any(n > limit for n in counts.values())
    return answer


@dataclass
class Lease:
    """Attempts to lease to `owner` until `until`, inside a `Store.transact` (the function
    fills `tokens` with the attempts it started)."""

    owner: str
    until: float
    tokens: list[str] = field(default_factory=list)
