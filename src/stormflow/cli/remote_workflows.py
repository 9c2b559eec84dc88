"""`storm submit`, `storm ls`, `storm show`, `storm watch`: workflows on a server."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import Counter, defaultdict
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from stormflow.cli.common import Sets, instantiated_document
from stormflow.cli.remote import (
    COLOURS,
    Json,
    Server,
    Token,
    WorkflowId,
    connect,
    console,
    counts_line,
    print_json,
    remote_command,
    styled,
    when,
)
from stormflow.client import Client, StormError


def register(app: typer.Typer) -> None:
    app.command("submit")(submit_command)
    app.command("ls")(ls_command)
    app.command("show")(show_command)
    app.command("tree")(tree_command)
    app.command("watch")(watch_command)


@remote_command
def submit_command(
    file: Annotated[str, typer.Argument(help="Workflow document (YAML or JSON).")],
    hold: Annotated[
        bool,
        typer.Option("--hold", help="Nothing starts: the first nodes are submitted holding."),
    ] = False,
    sets: Sets = None,
    server: Server = None,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """Submit a workflow document to the server; it starts at once (unless --hold)."""
    # params are filled and files read here; stored templates' names are the server's
    data = instantiated_document(file, sets, strict=False)
    if hold:
        data = hold_roots(data)
    client = connect(server, token)
    answer = client.submit(data)
    if as_json:
        print_json(answer)
        return
    out = console()
    out.print(
        f"submitted [bold]{escape(str(answer.get('name')))}[/] as [bold]{answer['id']}[/] "
        f"({styled(answer.get('status'))})"
    )
    if answer.get("url"):
        out.print(f"monitor: {escape(str(answer['url']))}")
    out.print(f"[dim]storm watch {answer['id']}  |  storm show {answer['id']}[/]")


def hold_roots(data: Any) -> Any:
    """The document with every node that has no upstream set to holding.

    Holding the roots is enough to keep the whole workflow from starting, and the
    other nodes keep `open` as their submitted status, so a later retry still runs
    them by itself. A malformed document is left for the server to report.
    """
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        return data
    downstream = set()
    for edge in data.get("edges") or []:
        if isinstance(edge, list) and len(edge) == 2:
            downstream.add(edge[1])
        elif isinstance(edge, dict) and "to" in edge:
            downstream.add(edge["to"])
    nodes = []
    for node in data["nodes"]:
        if isinstance(node, dict) and node.get("name") not in downstream:
            node = {**node, "status": "holding"}
        nodes.append(node)
    return {**data, "nodes": nodes}


@remote_command
def ls_command(
    status: Annotated[
        str | None, typer.Option("--status", help="Only workflows with this status.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Only names matching this glob.")
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Include archived workflows.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
    top: Annotated[
        bool, typer.Option("--top", help="Leave out sub-workflows (started by workflow nodes).")
    ] = False,
    server: Server = None,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """List workflows, newest first."""
    client = connect(server, token)
    query: dict[str, Any] = {"status": status, "name": name, "limit": limit}
    if top:
        query["children"] = False
    answer = client.request("GET", "/workflows", {**query, "archived": False})
    items = answer["items"]
    if show_all:  # the archived ones too: one page of both, newest first
        items += client.request("GET", "/workflows", {**query, "archived": True})["items"]
        items.sort(key=lambda w: float(w.get("created_at") or 0), reverse=True)
        items = items[:limit]
        answer = {**answer, "items": items}
    if as_json:
        print_json(answer)  # GET /workflows's answer: {"items", "limit", "offset"}
        return
    out = console()
    if not items:
        out.print("no workflows")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("id", "name", "status", "done", "owner", "created", ""):
        table.add_column(column, justify="right" if column == "done" else "left")
    for wf in items:
        counts = wf.get("counts") or {}
        done = counts.get("succeeded", 0) + counts.get("skipped", 0)
        parent = wf.get("parent")
        inside = f" [dim](in {parent['workflow_id']})[/]" if parent else ""
        table.add_row(
            wf["id"],
            escape(str(wf.get("name"))) + inside,
            styled(wf.get("status")),
            f"{done}/{wf.get('total', sum(counts.values()))}",
            escape(str(wf.get("owner") or "-")),
            when(wf.get("created_at")),
            marks(wf),
        )
    out.print(table)


def marks(wf: dict[str, Any]) -> str:
    """The lifecycle marks on top of the status: archived, expired (its ttl ran out)."""
    return " ".join(f"[dim]{m}[/]" for m in ("archived", "expired") if wf.get(m))


def summarize(client: Client, workflow_id: str) -> dict[str, Any]:
    """The workflow summary plus per-group counts, running and failed nodes, from one graph read."""
    summary = client.workflow(workflow_id)
    graph = client.graph(workflow_id)
    columns = graph.get("nodes") or {}
    names = columns.get("name") or []
    statuses = columns.get("status") or []
    groups_of = columns.get("group") or [None] * len(names)
    kinds = columns.get("kind") or [None] * len(names)
    phases = columns.get("phase") or [None] * len(names)
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    chunked: dict[str, bool] = {}
    group_kind: dict[str, Any] = {}
    for name, node_status, group, kind in zip(names, statuses, groups_of, kinds, strict=False):
        key = group or name
        groups[key][node_status] += 1
        chunked[key] = group is not None
        group_kind.setdefault(key, kind)
    return {
        "workflow": summary,
        "groups": [
            {
                "name": key,
                "kind": group_kind.get(key),
                "chunks": sum(counts.values()) if chunked[key] else 0,
                "counts": dict(counts),
            }
            for key, counts in groups.items()
        ],
        "running": [n for n, s in zip(names, statuses, strict=False) if s == "running"],
        "executing": [n for n, p in zip(names, phases, strict=False) if p == "executing"],
        "queued": [n for n, p in zip(names, phases, strict=False) if p == "queued"],
        "failed": [n for n, s in zip(names, statuses, strict=False) if s == "failed"],
        "canceled": [n for n, s in zip(names, statuses, strict=False) if s == "canceled"],
        "truncated": graph.get("total", len(names)) > len(names),
    }


@remote_command
def show_command(
    workflow_id: WorkflowId,
    server: Server = None,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """A workflow at a glance: counts per status, per node group, running and failed nodes."""
    data = summarize(connect(server, token), workflow_id)
    if as_json:
        print_json(data)
        return
    out = console()
    wf = data["workflow"]
    # Every line wraps at the terminal's width (80 columns by default); names stay whole.
    out.print(
        f"[bold]{escape(str(wf.get('name')))}[/] {wf['id']}  {styled(wf.get('status'))}"
        + (f"  {marks(wf)}" if marks(wf) else ""),
        soft_wrap=False,
    )
    out.print(
        f"owner {escape(str(wf.get('owner') or '-'))}, created {when(wf.get('created_at'))}"
        + (f", expires {when(wf['expires_at'])}" if wf.get("expires_at") else ""),
        soft_wrap=False,
    )
    counts = counts_line(wf.get("counts") or {}, wf.get("phases"))
    out.print(f"{wf.get('total', 0)} nodes: {counts}", soft_wrap=False)
    # One counts cell per node group (only the statuses it has): fits 80 columns whatever
    # mix of statuses the workflow holds.
    table = Table(box=None, pad_edge=False)
    table.add_column("node", overflow="fold")
    table.add_column("kind")
    table.add_column("chunks", justify="right")
    table.add_column("statuses", ratio=1)
    for group in data["groups"]:
        table.add_row(
            escape(group["name"]),
            escape(str(group.get("kind") or "")),
            str(group["chunks"] or ""),
            counts_line(group["counts"]),
        )
    out.print(table)
    for label, names in (
        ("executing", data["executing"]),
        ("queued", data["queued"]),
        ("failed", data["failed"]),
        ("canceled", data["canceled"]),
    ):
        if names:
            shown = ", ".join(names[:20]) + (f" ... and {len(names) - 20} more" * (len(names) > 20))
            colour = COLOURS["running"] if label in ("executing", "queued") else COLOURS[label]
            out.print(f"[{colour}]{label}[/]: {escape(shown)}", soft_wrap=False)
    if data["truncated"]:
        out.print("[dim](large workflow: only the first page of the graph was read)[/]")
    parent = wf.get("parent")
    if parent:
        out.print(f"parent: {parent['workflow_id']} node {escape(parent['node'])}", soft_wrap=False)
    children = wf.get("children") or []
    if children:
        out.print(f"children ({len(children)}):", soft_wrap=False)
        for child in children:
            out.print("  " + child_line(child), soft_wrap=False)


def child_line(child: dict[str, Any]) -> str:
    """One child workflow: its node, id, status and counts (and `old` when only a snapshot
    of its node keeps it)."""
    old = "" if child.get("current", True) else " [dim](old: a snapshot keeps it)[/]"
    return (
        f"{escape(str(child['node']))} -> {child['workflow_id']} {styled(child.get('status'))}"
        f"  ({counts_line(child.get('counts') or {})}){old}"
    )


@remote_command
def tree_command(
    workflow_id: WorkflowId,
    depth: Annotated[
        int, typer.Option("--depth", min=1, max=8, help="Levels of children shown.")
    ] = 8,
    server: Server = None,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """A workflow and the sub-workflows its workflow nodes started, nested."""
    data = connect(server, token).tree(workflow_id, depth=depth)
    if as_json:
        print_json(data)
        return
    wf = data["workflow"]
    root = Tree(
        f"[bold]{escape(str(wf.get('name')))}[/] {wf['id']} {styled(wf.get('status'))}"
        f"  ({counts_line(wf.get('counts') or {})})"
    )

    def grow(branch: Tree, children: list[dict[str, Any]]) -> None:
        for item in children:
            grow(branch.add(child_line(item["link"])), item["children"])

    grow(root, data["children"])
    console().print(root, soft_wrap=False)


# ------------------------------------------------------------------------------ watch


@remote_command
def watch_command(
    workflow_id: WorkflowId,
    server: Server = None,
    token: Token = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print events, then the final summary, as JSON lines.")
    ] = False,
) -> None:
    """Follow a workflow live until it stops running; exit 0 if it succeeded, 1 otherwise."""
    client = connect(server, token)
    # The starting point first: an event between the two reads is shown, not lost.
    start = client.latest_seq(workflow_id)
    summary = client.workflow(workflow_id)
    out = console()
    events: queue.Queue[Any] = queue.Queue()
    if summary.get("status") == "running":
        # The stream blocks between events; a reader thread lets this loop re-read the
        # summary on a clock as well, so the end is seen even when no event follows it.
        reader = threading.Thread(
            target=_pump, args=(client, workflow_id, start, events), daemon=True
        )
        reader.start()
        live = Live(console=out, refresh_per_second=4) if out.is_terminal and not as_json else None
        recent: list[str] = []
        if live is not None:
            live.start()
        try:
            summary = _watch_loop(client, workflow_id, summary, events, recent, live, as_json)
        finally:
            if live is not None:
                live.update(_view(summary, recent))
                live.stop()
    if as_json:
        typer.echo(json.dumps({"summary": summary}))
    else:
        out.print(
            f"{summary['id']} {escape(str(summary.get('name')))}: {styled(summary.get('status'))}"
            f"  ({counts_line(summary.get('counts') or {}, summary.get('phases'))})"
        )
    raise typer.Exit(0 if summary.get("status") == "succeeded" else 1)


def _pump(client: Client, workflow_id: str, after: int, sink: queue.Queue[Any]) -> None:
    try:
        for event in client.stream_events(workflow_id, after=after):
            sink.put(event)
    except StormError as exc:
        sink.put(exc)


def _watch_loop(
    client: Client,
    workflow_id: str,
    summary: dict[str, Any],
    events: queue.Queue[Any],
    recent: list[str],
    live: Live | None,
    as_json: bool,
) -> dict[str, Any]:
    last_read = time.monotonic()
    dirty = False
    seen = last_seq = 0
    end: float | None = None  # once stopped: show events up to its last one, then return
    while True:
        try:
            item = events.get(timeout=0.25)
        except queue.Empty:
            item = None
        if isinstance(item, StormError):
            raise item
        if item is not None:
            dirty = True
            seen = max(seen, int(item.get("seq") or 0))
            if as_json:
                typer.echo(json.dumps(item))
            else:
                line = event_line(item)
                recent.append(line)
                del recent[:-12]
                if live is None:
                    console().print(line)
        now = time.monotonic()
        if end is not None:
            if seen >= last_seq or now > end:
                return summary
            continue
        # Re-read after events (at most 4 times a second) and every 2 s regardless.
        if (dirty and now - last_read >= 0.25) or now - last_read >= 2.0:
            summary = client.workflow(workflow_id)
            last_read, dirty = now, False
            if live is not None:
                live.update(_view(summary, recent))
            if summary.get("status") != "running":
                last_seq = client.latest_seq(workflow_id)
                end = now + 3.0


def _view(summary: dict[str, Any], recent: list[str]) -> Group:
    counts = summary.get("counts") or {}
    total = summary.get("total") or sum(counts.values()) or 1
    done = counts.get("succeeded", 0) + counts.get("skipped", 0)
    head = Text.from_markup(
        f"[bold]{escape(str(summary.get('name')))}[/] {summary.get('id')} "
        f"{styled(summary.get('status'))}  {done}/{total} ({100 * done // total}%)"
    )
    return Group(
        head,
        Text.from_markup(counts_line(counts, summary.get("phases"))),
        *[Text.from_markup(line) for line in recent],
    )


def event_line(event: dict[str, Any]) -> str:
    """One event for people: seq, time, type, node, old -> new, actor, why."""
    parts = [f"[dim]{event.get('seq')}[/]", when(event.get("at")), escape(str(event.get("type")))]
    if event.get("node"):
        parts.append(f"[bold]{escape(str(event['node']))}[/]")
    if event.get("old") or event.get("new"):
        parts.append(f"{styled(event.get('old'))} -> {styled(event.get('new'))}")
    if event.get("actor"):
        parts.append(f"by {escape(str(event['actor']))}")
    why = event.get("why")
    if why:
        caused = f" from {event['caused_by']}" if event.get("caused_by") else ""
        parts.append(f"[dim]({escape(str(why))}{escape(caused)})[/]")
    return " ".join(parts)
