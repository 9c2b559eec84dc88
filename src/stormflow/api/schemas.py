"""Request and answer models: they make the OpenAPI schema precise (clients and tests use it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

StatusName = Literal["open", "holding", "running", "succeeded", "skipped", "failed", "canceled"]
PhaseName = Literal["queued", "executing"]
WorkflowStatusName = Literal["running", "succeeded", "failed", "holding"]
ActionName = Literal["hold", "unhold", "skip", "cancel", "update", "retry", "revert", "replay"]
TargetName = Literal["submitted", "open", "holding"]
#: Offsets, sequence numbers and snapshot numbers fit a 32-bit database integer.
MAX_INT = 2**31 - 1
#: A workflow document: any JSON object (spec.validate says what is wrong with it).
Document = dict[str, Any]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SchedulerHealth(BaseModel):
    """`storm server`'s scheduler child."""

    alive: bool
    pid: int | None
    restarts: int
    last_error: str | None
    started_at: float | None


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    scheduler: bool  # an embedded scheduler runs and its loop turns
    scheduler_stuck: bool = False  # it runs, but its loop has not turned for a minute
    # failures the embedded scheduler's loop survived (logged with their traceback), and
    # the last one in a line; busy-store retries are counted apart
    scheduler_errors: int = 0
    scheduler_busy: int = 0
    scheduler_last_error: str | None = None
    scheduler_process: SchedulerHealth | None = None


class Submitted(BaseModel):
    id: str
    name: str
    status: WorkflowStatusName
    url: str
    replayed: bool = False


class WorkflowSummary(BaseModel):
    id: str
    name: str
    owner: str | None
    created_at: float
    archived: bool
    expires_at: float | None = None  # submitted with a ttl: it expires then
    expired: bool = False  # its running attempts were stopped; nothing more runs
    status: WorkflowStatusName
    counts: dict[StatusName, int]
    phases: dict[PhaseName, int]  # the running nodes, split: queued + executing = running
    total: int
    skipped: int
    seq: int = Field(description="The last event seq these counts and status reflect.")


class WorkflowDetail(WorkflowSummary):
    metadata: dict[str, Any]


class WorkflowPage(BaseModel):
    items: list[WorkflowSummary]
    limit: int
    offset: int
    next_cursor: str | None = None  # the next page's `cursor`; null on the last page


class NodeRowOut(BaseModel):
    name: str
    kind: str
    status: StatusName
    group: str | None
    frames: str | None
    phase: PhaseName | None  # running: queued until its attempt's process starts; else null
    started_at: float | None  # running: the live attempt's real start, or null


class NodePage(BaseModel):
    items: list[NodeRowOut]
    limit: int | None
    offset: int
    next: str | None = None  # the cursor of the following page (with `limit`)
    seq: int = Field(description="The last event seq these rows reflect: stream after it.")


class AttemptOut(BaseModel):
    number: int
    token: str
    created_at: float
    not_before: float
    started_at: float | None
    ended_at: float | None
    result: str | None
    exit_code: int | None
    error: str | None
    worker: str | None
    snapshot: int | None


class NodeDetail(NodeRowOut):
    submitted: StatusName
    base: dict[str, Any]
    patch: dict[str, Any]
    current: dict[str, Any]
    snapshot_count: int
    attempts: list[AttemptOut]
    upstream: list[str]
    downstream: list[str]
    allowed_actions: list[ActionName]
    # external jobs: what the current attempt waits for (provider, external id, polls,
    # progress, outputs) and `phase`, one line ("waiting (external id j1, 40%)"); else null
    wait: dict[str, Any] | None = None


class CompactNodes(BaseModel):
    name: list[str]
    kind: list[str]
    status: list[StatusName]
    group: list[str | None]
    frames: list[str | None]
    phase: list[PhaseName | None]


class CompactGraph(BaseModel):
    total: int
    offset: int
    limit: int
    nodes: CompactNodes
    edges: list[tuple[int, int]]
    patched: list[int] = Field(description="indexes of nodes with a non-empty patch (revert)")
    snapshots: list[tuple[int, int]] = Field(
        description="[index, snapshot count] of nodes with snapshots (replay)"
    )
    seq: int = Field(description="The last event seq these statuses reflect: stream after it.")


class Selection(Strict):
    """All given filters must match; at least one is given."""

    names: list[str] | None = Field(None, max_length=200_000)
    glob: str | None = Field(None, min_length=1, max_length=1000)
    status: list[StatusName] | None = None
    kind: list[str] | None = None

    @model_validator(mode="after")
    def _some_filter(self) -> Selection:
        if self.names is None and self.glob is None and self.status is None and self.kind is None:
            raise ValueError("a selection needs at least one of names, glob, status, kind")
        return self


class ActionRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "action": "update",
                    "selection": {"glob": "render.*", "status": ["failed"]},
                    "patch": {"instance_type": "mem-64"},
                },
                {"action": "hold", "selection": {"glob": "*"}},
                {"action": "retry", "selection": {"status": ["failed", "canceled"]}},
            ]
        },
    )

    action: ActionName
    selection: Selection
    patch: dict[str, Any] | None = None
    target: TargetName = "submitted"
    snapshot: int | None = Field(None, ge=1, le=MAX_INT)
    strict: bool = False
    dry_run: bool = Field(
        False,
        description="Answer what the action would do now, and store nothing.",
    )

    @model_validator(mode="after")
    def _fits_action(self) -> ActionRequest:
        if self.patch is not None and self.action != "update":
            raise ValueError("patch is only for update")
        if self.action == "update" and self.patch is None:
            raise ValueError("update needs a patch (retry is an update without one)")
        if self.snapshot is not None and self.action != "replay":
            raise ValueError("snapshot is only for replay")
        if self.action == "replay" and self.snapshot is None:
            raise ValueError("replay needs a snapshot number")
        return self


class IneligibleOut(BaseModel):
    node: str
    status: StatusName
    reason: str


class ChangeOut(BaseModel):
    node: str
    old: StatusName
    new: StatusName
    why: str
    caused_by: str | None


class SnapshotRef(BaseModel):
    node: str
    number: int


class ActionCounts(BaseModel):
    """How many: selected nodes, nodes the action itself changed (`direct`), nodes the cascade
    reset, ineligible nodes, snapshots stored, running attempts stopped."""

    selected: int
    direct: int
    cascaded: int
    ineligible: int
    snapshots: int
    stopped: int


class ActionAnswer(BaseModel):
    action: ActionName
    selected: int
    changed: list[str]
    cascaded: list[str]
    ineligible: list[IneligibleOut]
    changes: list[ChangeOut]
    snapshots: list[SnapshotRef]
    counts: ActionCounts
    first_seq: int | None
    last_seq: int | None
    replayed: bool
    dry_run: bool = False
    seq: int | None = Field(
        None,
        description="The workflow's last event seq this answer reflects (a dry run: the "
        "moment it read; an applied action: its last event, or null if it appended none).",
    )


ImageFormat = Literal["png", "jpeg", "tiff", "exr"]


class PreviewImage(BaseModel):
    """An image file under the workflow's directory, with the URLs that show it."""

    path: str = Field(description="relative to the workflow's directory")
    frame: int | None = Field(description="the digits just before the extension")
    format: ImageFormat
    bytes: int
    mtime: float
    thumb: str = Field(description="URL of a JPEG thumbnail (256 px; size= changes it)")
    image: str = Field(description="URL of the full image (TIFF and OpenEXR as PNG)")


class PreviewAttempt(BaseModel):
    number: int
    started_at: float | None
    ended_at: float | None
    result: str | None


class NodePreviews(BaseModel):
    node: str
    group: str | None
    frames: str | None
    status: StatusName
    attempt: PreviewAttempt | None
    output: str | None
    images: list[PreviewImage]
    latest: PreviewImage | None = Field(description="the newest image (a running render's last)")
    truncated: bool


class ContactFrame(BaseModel):
    frame: int
    node: str
    status: StatusName
    attempt: int | None
    image: PreviewImage | None


class ContactSheet(BaseModel):
    group: str
    total: int = Field(description="frames in the group")
    with_image: int = Field(description="frames of the group that have an image")
    offset: int
    limit: int
    frames: list[ContactFrame]


class CurrentConfig(BaseModel):
    patch: dict[str, Any]
    config: dict[str, Any]


class SnapshotOut(BaseModel):
    number: int
    status: StatusName
    patch: dict[str, Any]
    config: dict[str, Any]
    at: float
    actor: str
    why: str
    caused_by: str | None
    attempts: list[AttemptOut]


class BaseConfig(BaseModel):
    config: dict[str, Any]


class History(BaseModel):
    current: CurrentConfig
    snapshots: list[SnapshotOut]
    base: BaseConfig


class DiffChange(BaseModel):
    path: str
    a: Any
    b: Any


class Diff(BaseModel):
    a: str
    b: str
    changes: list[DiffChange]


class EventOut(BaseModel):
    seq: int
    type: str
    node: str | None
    old: StatusName | None
    new: StatusName | None
    actor: str
    at: float
    why: str | None
    caused_by: str | None
    payload: dict[str, Any]
    correlation: str | None


class EventPage(BaseModel):
    items: list[EventOut]
    last_seq: int


class FixerOut(BaseModel):
    name: str
    description: str


class EntryOut(BaseModel):
    severity: Literal["error", "warning", "info"]
    code: str
    message: str
    nodes: list[str]
    field: str | None
    line: int | None
    fixers: list[FixerOut]


class Validation(BaseModel):
    entries: list[EntryOut]
    errors: int
    warnings: int


class FixRequest(Strict):
    document: Document
    fixer: str = Field(min_length=1)


class Fixed(BaseModel):
    document: Document
    entries: list[EntryOut]


class DraftCreated(BaseModel):
    id: str
    url: str
    entries: list[EntryOut]


class DraftOut(BaseModel):
    id: str
    document: Document
    entries: list[EntryOut]
    created_at: float
    updated_at: float
    workflow_id: str | None


class LimitOut(BaseModel):
    name: str
    capacity: int
    used: int


class LimitIn(Strict):
    capacity: int = Field(ge=0, le=1_000_000)


class ErrorDetail(BaseModel):
    code: str
    message: str
    where: str | None
    details: Any


class ErrorBody(BaseModel):
    error: ErrorDetail
