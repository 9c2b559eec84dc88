"""The durable record: workflows and their lifecycle state in SQLite or PostgreSQL.

`Store.transact` runs a core lifecycle function on a lazy view of one workflow and
persists the `Outcome` in the same transaction; reads and the scheduler's lease
operations live beside it. See `store.py`, `view.py`, `persist.py`, `leases.py`.
"""

from __future__ import annotations

from .drafts import DraftRow, UnknownDraft
from .records import (
    Applied,
    EventRow,
    Lease,
    LimitRow,
    NodeRow,
    PendingAttempt,
    PlannedNodeLike,
    StoredAttempt,
    UnknownWorkflow,
    WorkflowRow,
    summarize,
)
from .store import Store
from .templates import TemplateExists, TemplateRow, UnknownTemplate
from .view import StoreView

__all__ = [
    "Applied",
    "DraftRow",
    "EventRow",
    "Lease",
    "LimitRow",
    "NodeRow",
    "PendingAttempt",
    "PlannedNodeLike",
    "Store",
    "StoreView",
    "StoredAttempt",
    "TemplateExists",
    "TemplateRow",
    "UnknownDraft",
    "UnknownTemplate",
    "UnknownWorkflow",
    "WorkflowRow",
    "summarize",
]
