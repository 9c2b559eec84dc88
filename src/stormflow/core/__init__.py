"""The node lifecycle (spec/node-lifecycle.md) as pure functions over plain data.

No I/O, no clock (time is passed in as `at`), no framework. Every other layer
calls these functions; nothing else decides a transition. An action returns an
`Outcome`: a plain description of what changes, which a store persists in one
transaction and an engine acts on (attempts to stop and to start).
"""

from .actions import (
    NOTHING_TO_REVERT,
    act,
    allowed_actions,
    cancel,
    hold,
    refusal,
    replay,
    retry,
    revert,
    skip,
    target_status,
    unhold,
    update,
)
from .children import REOPENABLE, reopen
from .graph import Graph, GraphView
from .integrity import WorkflowStatus, derive_status, violations, workflow_status
from .model import (
    ActionRefused,
    Attempt,
    Event,
    Ineligible,
    LifecycleError,
    Node,
    NotRunnable,
    Outcome,
    Snapshot,
    StatusChange,
    Target,
    UnknownNode,
)
from .overlay import Overlay, sequence
from .patch import apply_patch, current_config, diff, merge_edit
from .procedural import fail, is_runnable, run, run_ready, runnable, started, succeed
from .statuses import (
    ALLOWED,
    BAD,
    FINAL,
    READY,
    RETRYABLE,
    START,
    STATUS_OF,
    Action,
    Status,
    is_allowed,
)

__all__ = [
    "ALLOWED",
    "BAD",
    "FINAL",
    "NOTHING_TO_REVERT",
    "READY",
    "REOPENABLE",
    "RETRYABLE",
    "START",
    "STATUS_OF",
    "Action",
    "ActionRefused",
    "Attempt",
    "Event",
    "Graph",
    "GraphView",
    "Ineligible",
    "LifecycleError",
    "Node",
    "NotRunnable",
    "Outcome",
    "Overlay",
    "Snapshot",
    "Status",
    "StatusChange",
    "Target",
    "UnknownNode",
    "WorkflowStatus",
    "act",
    "allowed_actions",
    "apply_patch",
    "cancel",
    "current_config",
    "derive_status",
    "diff",
    "fail",
    "hold",
    "is_allowed",
    "is_runnable",
    "merge_edit",
    "refusal",
    "reopen",
    "replay",
    "retry",
    "revert",
    "run",
    "run_ready",
    "runnable",
    "sequence",
    "skip",
    "started",
    "succeed",
    "target_status",
    "unhold",
    "update",
    "violations",
    "workflow_status",
]
