"""`storm history`, `storm logs`, `storm events`, `storm limits`: reading a server."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from stormflow.cli.common import fail
from stormflow.cli.remote import (
    Json,
    Server,
    Token,
    WorkflowId,
    compact,
    connect,
    console,
    print_json,
    remote_command,
    styled,
    when,
)
from stormflow.cli.remote_workflows import event_line

NodeName = Annotated[str, typer.Argument(help="Node name, e.g. render.1-4.")]


def register(app: typer.Typer) -> None:
    app.command("history")(history_command)
    app.command("logs")(logs_command)
    app.command("events")(events_command)
    app.command("limits")(limits_command)


@remote_command
def history_command(
    workflow_id: WorkflowId,
    node: NodeName,
    diff: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--diff",
            metavar="A B",
            help="Compare two configurations: current, base or a snapshot number.",
        ),
    ] = None,
    server: Server = None,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """A node's configurations: current, its snapshots newest first, then base."""
    client = connect(server, token)
    out = console()
    if diff is not None and diff[0] is not None:
        answer = client.diff(workflow_id, node, *diff)
        if as_json:
            print_json(answer)
            return
        changes = answer.get("changes") or []
        out.print(f"{escape(node)}: {answer.get('a')} vs {answer.get('b')}")
        if not changes:
            out.print("no differences")
            return
        table = Table(box=None, pad_edge=False)
        for column in ("key", str(answer.get("a")), str(answer.get("b"))):
            table.add_column(escape(column))
        for change in changes:
            table.add_row(
                escape(str(change.get("path"))),
                escape(compact(change.get("a"))),
                escape(compact(change.get("b"))),
            )
        out.print(table)
        return
    history = client.history(workflow_id, node)
    if as_json:
        print_json(history)
        return
    current = history.get("current") or {}
    out.print(f"[bold]{escape(node)}[/] current patch: {escape(compact(current.get('patch'), 80))}")
    snapshots = history.get("snapshots") or []
    if snapshots:
        table = Table(box=None, pad_edge=False)
        for column in ("snapshot", "left", "why", "by", "at", "attempts", "patch"):
            table.add_column(column)
        for snap in snapshots:
            why = str(snap.get("why") or "")
            if snap.get("caused_by"):
                why += f" from {snap['caused_by']}"
            attempts = snap.get("attempts") or []
            exits = ",".join(
                "-" if a.get("exit_code") is None else str(a.get("exit_code")) for a in attempts
            )
            table.add_row(
                f"snap({snap.get('number')})",
                styled(snap.get("status")),
                escape(why),
                escape(str(snap.get("actor") or "-")),
                when(snap.get("at")),
                f"{len(attempts)} (exit {exits})" if attempts else "0",
                escape(compact(snap.get("patch"))),
            )
        out.print(table)
    else:
        out.print("no snapshots")
    base = (history.get("base") or {}).get("config")
    out.print(f"base: {escape(compact(base, 100))}")


@remote_command
def logs_command(
    workflow_id: WorkflowId,
    node: NodeName,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the attempt ends.")
    ] = False,
    attempt: Annotated[
        str, typer.Option("--attempt", help="latest, or the attempt's 1-based index.")
    ] = "latest",
    tail: Annotated[
        int | None, typer.Option("--tail", min=0, help="Only the last N lines.")
    ] = None,
    server: Server = None,
    token: Token = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help='Print {"node", "attempt", "text"} as JSON (with -f: once it ends).'
        ),
    ] = False,
) -> None:
    """A node's log (the latest attempt unless --attempt)."""
    if attempt != "latest" and not attempt.isdigit():
        fail(f"bad --attempt {attempt!r}: latest or a number")
    client = connect(server, token)
    if follow and not as_json:
        for chunk in client.follow_log(workflow_id, node, attempt=attempt, tail=tail):
            typer.echo(chunk, nl=False)
        return
    if follow:  # --json: the whole text once the attempt has ended
        text = "".join(client.follow_log(workflow_id, node, attempt=attempt, tail=tail))
    else:
        text = client.log(workflow_id, node, attempt=attempt, tail=tail)
    if as_json:
        print_json({"node": node, "attempt": attempt, "text": text})
        return
    typer.echo(text, nl=not text or not text.endswith("\n"))


@remote_command
def events_command(
    workflow_id: WorkflowId,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events (Ctrl-C stops).")
    ] = False,
    after: Annotated[int, typer.Option("--after", min=0, help="Only events after seq N.")] = 0,
    server: Server = None,
    token: Token = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the answer as JSON (with -f: one event per line)."),
    ] = False,
) -> None:
    """A workflow's event log: every change, who made it and why."""
    client = connect(server, token)
    out = console()
    if follow:
        for event in client.stream_events(workflow_id, after=after):
            if as_json:
                typer.echo(json.dumps(event))
            else:
                out.print(event_line(event))
        return
    answer = client.events(workflow_id, after=after)
    if as_json:
        print_json(answer)
        return
    for event in answer.get("items") or []:
        out.print(event_line(event))


@remote_command
def limits_command(
    name: Annotated[str | None, typer.Argument(help="Limit to set, e.g. houdini_license.")] = None,
    capacity: Annotated[
        int | None, typer.Argument(min=0, help="Nodes holding it that may run at once.")
    ] = None,
    server: Server = None,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """List named limits (licenses...), or set one: storm limits NAME CAPACITY."""
    if name is not None and capacity is None:
        fail("give both NAME and CAPACITY to set a limit (storm limits lists them)")
    client = connect(server, token)
    rows: list[Any]
    if name is not None and capacity is not None:
        rows = [client.set_limit(name, capacity)]
    else:
        rows = client.limits()
    if as_json:
        print_json(rows[0] if name is not None else rows)
        return
    out = console()
    if not rows:
        out.print("no limits")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("limit", "capacity", "used"):
        table.add_column(column, justify="left" if column == "limit" else "right")
    for row in rows:
        table.add_row(escape(str(row["name"])), str(row["capacity"]), str(row.get("used", 0)))
    out.print(table)
