"""The live progress display of `storm run`: per-status counts, running nodes, failures."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from stormflow.core import READY, Status, WorkflowStatus
from stormflow.store import Store
from stormflow.store.children import ChildRow

#: The seed's colours (skipped is purple).
COLOURS = {
    Status.OPEN: "white",
    Status.HOLDING: "yellow",
    Status.RUNNING: "cyan",
    Status.SUCCEEDED: "green",
    Status.SKIPPED: "magenta",
    Status.FAILED: "red",
    Status.CANCELED: "bright_black",
}


def tail(path: str | None, lines: int = 6) -> list[str]:
    if not path:
        return []
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 8192))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


@dataclass
class Snapshot:
    """What the display shows, read from the store in a few queries."""

    name: str
    workflow_id: str
    status: WorkflowStatus
    counts: dict[Status, int]
    elapsed: float
    phases: dict[str, int] = field(default_factory=dict)  # running, split: queued / executing
    # name, attempt, seconds since its process started (None: queued, not started)
    running: list[tuple[str, int, float | None]] = field(default_factory=list)
    failures: list[tuple[str, str | None, list[str]]] = field(default_factory=list)
    # upload nodes moving files: their figures (bytes done/total, rate) from the store
    uploads: list[dict[str, Any]] = field(default_factory=list)
    # sub-workflows: the children its `workflow` nodes follow now, and the counts of every
    # depth rolled up (its own nodes, a `workflow` node standing for its child's nodes)
    children: list[ChildRow] = field(default_factory=list)
    rollup: dict[Status, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return sum(self.counts.get(s, 0) for s in READY)


def read(store: Store, workflow_id: str, started: float, *, max_running: int = 8) -> Snapshot:
    wf = store.workflow(workflow_id)
    now = time.time()
    snap = Snapshot(
        name=wf.name,
        workflow_id=workflow_id,
        status=store.status(workflow_id),
        counts=store.counts(workflow_id),
        elapsed=now - started,
    )
    snap.phases = store.phases(workflow_id, snap.counts)
    snap.children = [c for c in store.children(workflow_id) if c.current]
    if snap.children:
        snap.rollup = {s: n for s, n in store.rollup(workflow_id, snap.children).items() if n}
    for name, since in store.starts(workflow_id, limit=max_running).items():
        att = store.node(workflow_id, name).attempt
        secs = None if since is None else now - since
        snap.running.append((name, att.number if att else 0, secs))
    snap.uploads = [
        u for u in store.uploads(workflow_id) if u["state"] in ("checking", "sending", "paused")
    ]
    for row in store.nodes(workflow_id, statuses=[Status.FAILED], limit=3):
        node = store.node(workflow_id, row.name)
        att = node.attempt
        snap.failures.append((row.name, att.error if att else None, tail(att.log if att else None)))
    return snap


def render(snap: Snapshot, *, bar: bool = True) -> RenderableType:
    """The display; without `bar` (storm run -q, or not at a terminal), just the summary."""
    head = Text.assemble(
        (f"{snap.name} ", "bold"),
        (f"({snap.workflow_id}) ", "dim"),
        (snap.status.value, "bold " + _workflow_colour(snap.status)),
        f"  {snap.done}/{snap.total} ready  {snap.elapsed:0.1f}s",
    )
    filled = round(40 * snap.done / max(snap.total, 1))
    progress = Text.assemble(("━" * filled, "green"), ("━" * (40 - filled), "bright_black"))
    counts = Text("  ").join(
        Text(count_text(snap, status), style=COLOURS[status])
        for status in Status
        if snap.counts.get(status, 0)
    )
    parts: list[RenderableType] = [head, progress, counts] if bar else [head, counts]
    if snap.children:
        parts.extend(child_lines(snap))
    if snap.running:
        table = Table(show_header=True, header_style="dim", box=None, pad_edge=False)
        table.add_column("running")
        table.add_column("attempt", justify="right")
        table.add_column("elapsed", justify="right")
        for name, attempt, secs in snap.running:
            table.add_row(escape(name), str(attempt), "queued" if secs is None else f"{secs:0.1f}s")
        parts.append(table)
    if snap.uploads:
        parts.append(upload_table(snap.uploads))
    for name, error, lines in snap.failures:
        parts.append(Text(f"failed: {name}: {error or 'no error recorded'}", style="red"))
        parts.extend(Text("    " + line, style="dim") for line in lines)
    return Group(*parts)


#: Child workflows shown one line each; the others are summed up in one line.
MAX_CHILD_LINES = 8
#: Which children get a line first: those that need a look, then those that run.
_CHILD_ORDER = {"failed": 0, "holding": 1, "running": 2, "succeeded": 3}


def child_lines(snap: Snapshot) -> list[RenderableType]:
    """The totals of every depth, then a line per child workflow (failed, holding and
    running ones first), the rest summed up."""
    total = sum(snap.rollup.values())
    done = sum(snap.rollup.get(s, 0) for s in READY)
    rolled = Text("  ").join(
        Text(f"{status.value} {snap.rollup[status]}", style=COLOURS[status])
        for status in Status
        if snap.rollup.get(status, 0)
    )
    lines: list[RenderableType] = [
        Text.assemble(
            (f"with {len(snap.children)} child workflows: ", "bold"), f"{done}/{total} ready  "
        ).append_text(rolled)
    ]
    ordered = sorted(snap.children, key=lambda c: _CHILD_ORDER.get(c.status, 4))
    table = Table(show_header=True, header_style="dim", box=None, pad_edge=False)
    for column in ("child", "status", "ready", "counts"):
        table.add_column(column)
    for child in ordered[:MAX_CHILD_LINES]:
        count = sum(child.counts.values())
        ready = sum(child.counts.get(s, 0) for s in READY)
        table.add_row(
            Text.assemble(escape(child.node), (f" ({child.child_id})", "dim")),
            Text(child.status, style=_workflow_colour(WorkflowStatus(child.status))),
            f"{ready}/{count}",
            Text("  ").join(
                Text(f"{s.value} {child.counts[s]}", style=COLOURS[s])
                for s in Status
                if child.counts.get(s, 0)
            ),
        )
    lines.append(table)
    rest = ordered[MAX_CHILD_LINES:]
    if rest:
        by_status: dict[str, int] = {}
        for child in rest:
            by_status[child.status] = by_status.get(child.status, 0) + 1
        summed = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
        lines.append(Text(f"... and {len(rest)} more child workflows ({summed})", style="dim"))
    return lines


def child_outputs(store: Store, workflow_id: str, root: Path) -> list[str]:
    """Where each child's outputs are, at every depth: its work directory, then each
    `output` its nodes declare that exists (the final summary of `storm run`)."""
    from stormflow.engine.render import workflow_dir

    found: list[str] = []
    for child in store.children(workflow_id):
        if not child.current:
            continue
        workdir = workflow_dir(root, child.child_id)
        found.append(f"child {child.name} ({child.child_id}) {child.status}: outputs in {workdir}")
        for name, path in outputs(store, child.child_id, workdir):
            found.append(f"output of {child.name}/{name}: {path}")
        found.extend(child_outputs(store, child.child_id, root))
    return found


def upload_table(uploads: list[dict[str, Any]]) -> Table:
    """One row per moving upload node: a bar, bytes done / total, rate, ETA."""
    from stormflow.cli.uploads import eta_text
    from stormflow.uploads.transfer import human

    table = Table(show_header=True, header_style="dim", box=None, pad_edge=False)
    for column in ("uploading", "", "done / total", "rate", "ETA"):
        table.add_column(column)
    for u in uploads:
        total, done, rate = int(u["bytes_total"]), int(u["bytes_done"]), float(u["rate"])
        filled = round(20 * done / max(total, 1))
        bar = Text.assemble(("━" * filled, "cyan"), ("━" * (20 - filled), "bright_black"))
        state = " (paused)" if u["paused"] else ""
        table.add_row(
            escape(str(u["node"])) + state,
            bar,
            f"{human(done)} / {human(total)}",
            f"{human(rate)}/s" if rate else "-",
            eta_text(total - done, rate),
        )
    return table


def uploads_done(store: Store, workflow_id: str) -> list[tuple[str, str]]:
    """(node, its summary line) for each upload node that succeeded: what moved, what was
    already there and the bytes that saved."""
    found: list[tuple[str, str]] = []
    for row in store.nodes(workflow_id, statuses=[Status.SUCCEEDED], kinds=["upload"]):
        att = store.node(workflow_id, row.name).attempt
        for line in reversed(tail(att.log if att else None, 20)):
            _stamp, sep, text = line.partition("] ")
            if sep and text.startswith("uploaded "):
                found.append((row.name, text))
                break
    return found


def count_text(snap: Snapshot, status: Status) -> str:
    """`running 10 (2 executing, 8 queued)`; the other statuses: `succeeded 4`."""
    text = f"{status.value} {snap.counts.get(status, 0)}"
    if status is Status.RUNNING and snap.phases:
        executing, queued = snap.phases.get("executing", 0), snap.phases.get("queued", 0)
        text += f" ({executing} executing, {queued} queued)"
    return text


def _workflow_colour(status: WorkflowStatus) -> str:
    return {
        WorkflowStatus.SUCCEEDED: "green",
        WorkflowStatus.RUNNING: "cyan",
        WorkflowStatus.FAILED: "red",
        WorkflowStatus.HOLDING: "yellow",
    }[status]


def outputs(store: Store, workflow_id: str, workdir: Path) -> list[tuple[str, Path]]:
    """(node, path) for each `output` the workflow's non-chunk nodes declare and that exists."""
    found: list[tuple[str, Path]] = []
    for row in store.nodes(workflow_id):
        if row.group is not None:
            continue
        value = store.node(workflow_id, row.name).current.get("output")
        if isinstance(value, str) and value:
            path = (workdir / value).resolve()
            if path.exists():
                found.append((row.name, path))
    return found


def notices(store: Store, workflow_id: str) -> list[tuple[str, str]]:
    """(node, where its message went) for each email or webhook node that succeeded: the
    line its attempt logged (`email to ... written to <outbox>/....eml (no SMTP server ...)`,
    `webhook to https://host/… answered 200 (try 1)`)."""
    found: list[tuple[str, str]] = []
    kinds = ["email", "webhook"]
    for row in store.nodes(workflow_id, statuses=[Status.SUCCEEDED], kinds=kinds):
        att = store.node(workflow_id, row.name).attempt
        for line in reversed(tail(att.log if att else None, 20)):
            _stamp, sep, text = line.partition("] ")
            if sep and text.startswith(f"{row.kind} "):
                found.append((row.name, text))
                break
    return found
