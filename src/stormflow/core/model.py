"""Plain data the lifecycle works on: nodes, attempts, snapshots, events, outcomes.

Everything here is immutable except `Outcome`, which the functions in
`actions` and `procedural` build up and then hand to a store (to persist in one
transaction) or to `Graph.apply` (in memory).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .patch import JsonDict, current_config
from .statuses import Status

#: Where an update sends a node: its submitted status, or open / holding explicitly.
Target = Literal["submitted", "open", "holding"]

#: How an attempt ended. "stopped": a person's action ended it; "lost": its worker vanished.
AttemptResult = Literal["succeeded", "failed", "stopped", "lost"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at running a node. Automatic retries are further attempts inside `running`."""

    number: int
    token: str
    created_at: float
    not_before: float
    started_at: float | None = None
    ended_at: float | None = None
    result: AttemptResult | None = None
    exit_code: int | None = None
    error: str | None = None
    worker: str | None = None
    log: str | None = None

    @property
    def ended(self) -> bool:
        return self.result is not None

    def as_dict(self) -> JsonDict:
        return {
            "number": self.number,
            "token": self.token,
            "created_at": self.created_at,
            "not_before": self.not_before,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "result": self.result,
            "exit_code": self.exit_code,
            "error": self.error,
            "worker": self.worker,
            "log": self.log,
        }


@dataclass(frozen=True, slots=True)
class Node:
    """A node's lifecycle state. `base` never changes; `patch` is a merge patch against it."""

    name: str
    status: Status
    submitted: Status
    base: Mapping[str, Any]
    patch: Mapping[str, Any] = field(default_factory=dict)
    attempts: tuple[Attempt, ...] = ()
    snapshot_count: int = 0
    attempt_seq: int = 0  # ever-increasing; makes every attempt token fresh

    @property
    def current(self) -> JsonDict:
        return current_config(self.base, self.patch)

    @property
    def attempt(self) -> Attempt | None:
        """The attempt the node is on (the last one), if any."""
        return self.attempts[-1] if self.attempts else None

    @property
    def live_token(self) -> str | None:
        """Token of an attempt that is still owed a result, if any."""
        att = self.attempt
        if self.status is Status.RUNNING and att is not None and not att.ended:
            return att.token
        return None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Immutable record of a node's configuration and attempts as it left a retryable status."""

    node: str
    number: int
    patch: Mapping[str, Any]
    status: Status  # the status it left
    attempts: tuple[Attempt, ...]
    at: float
    actor: str
    why: str  # update | retry | revert | replay | cascade
    caused_by: str | None = None  # for a cascade: the node whose action caused it


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the event log. The store adds sequence number, workflow and keys."""

    type: str
    node: str | None
    old: Status | None = None
    new: Status | None = None
    actor: str = "engine"
    at: float = 0.0
    why: str | None = None
    caused_by: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ineligible:
    """A selected node the action was not applied to, and why."""

    node: str
    status: Status
    reason: str


@dataclass(frozen=True, slots=True)
class StatusChange:
    node: str
    old: Status
    new: Status
    why: str
    caused_by: str | None = None


@dataclass(slots=True)
class Outcome:
    """What an action or transition changes: a plain description for a store or engine.

    - `nodes`: the new state of every node it touched (write these rows).
    - `changes`: status changes in order, with the reason and the cascade's origin.
    - `snapshots`: new snapshots (insert; never update).
    - `stop`: attempts to stop as (node, token): the engine kills these processes.
    - `start`: attempts to dispatch as (node, attempt), not before `attempt.not_before`.
    - `check`: nodes that may have become runnable (open with every upstream ready).
    - `ineligible`: selected nodes left unchanged, with the reason.
    - `stale`: True when a procedural result was ignored (old token or duplicate).
    """

    action: str
    actor: str
    at: float
    nodes: dict[str, Node] = field(default_factory=dict)
    changes: list[StatusChange] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    stop: list[tuple[str, str]] = field(default_factory=list)
    start: list[tuple[str, Attempt]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    ineligible: list[Ineligible] = field(default_factory=list)
    check: set[str] = field(default_factory=set)
    stale: bool = False

    def merge(self, other: Outcome) -> Outcome:
        """Fold in an outcome computed on the same view for *other* nodes (e.g. several runs)."""
        clash = self.nodes.keys() & other.nodes.keys()
        if clash:
            raise ValueError(f"outcomes touch the same nodes: {sorted(clash)[:3]}")
        return self.absorb(other)

    def absorb(self, later: Outcome) -> Outcome:
        """Append an outcome computed *after* this one was applied (see `overlay.sequence`):
        its node states replace earlier ones, everything else accumulates."""
        self.nodes.update(later.nodes)
        self.changes.extend(later.changes)
        self.snapshots.extend(later.snapshots)
        self.stop.extend(later.stop)
        self.start.extend(later.start)
        self.events.extend(later.events)
        self.ineligible.extend(later.ineligible)
        self.check |= later.check
        return self

    @property
    def changed(self) -> list[str]:
        """Names of the nodes whose state this outcome writes, in the order first touched."""
        return list(self.nodes)

    @property
    def cascaded(self) -> list[str]:
        return [c.node for c in self.changes if c.why == "cascade"]


class LifecycleError(Exception):
    """Base class for refusals by the lifecycle core. Nothing was changed."""


class UnknownNode(LifecycleError):
    def __init__(self, names: list[str]) -> None:
        self.names = names
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        super().__init__(f"unknown node(s): {shown}")


class ActionRefused(LifecycleError):
    """A strict selection action with ineligible nodes: nothing is applied."""

    def __init__(self, action: str, ineligible: list[Ineligible]) -> None:
        self.action = action
        self.ineligible = ineligible
        first = ineligible[0]
        more = f" (and {len(ineligible) - 1} more)" if len(ineligible) > 1 else ""
        super().__init__(f"{action} refused: {first.node}: {first.reason}{more}")


class NotRunnable(LifecycleError):
    """run was asked of a node that is not open with every upstream ready."""
