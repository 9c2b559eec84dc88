"""What the remote commands share: server options, the client, errors, output.

The remote commands (`remote_workflows`, `remote_actions`, `remote_nodes`) talk to
`storm server` through `stormflow.client.Client` only, exactly as a DCC script
would; they never open the store.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stormflow.cli.common import EXIT_BAD_INPUT, UserError, fail, one_line_errors
from stormflow.client import Client, StormError

P = ParamSpec("P")
T = TypeVar("T")

Server = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="Server URL (default: $STORM_SERVER, else server.json in $STORM_HOME or ~/.storm).",
    ),
]
Token = Annotated[
    str | None,
    typer.Option("--token", help="Server token (default: $STORM_TOKEN, else the token file)."),
]
Json = Annotated[bool, typer.Option("--json", help="Print the server's answer as JSON.")]
WorkflowId = Annotated[str, typer.Argument(help="Workflow id (storm ls lists them).")]

#: The seed's colours (skipped is purple), as in `storm run`.
COLOURS = {
    "open": "white",
    "holding": "yellow",
    "running": "cyan",
    "succeeded": "green",
    "skipped": "magenta",
    "failed": "red",
    "canceled": "bright_black",
}
STATUSES = tuple(COLOURS)


def remote_command(fn: Callable[P, T]) -> Callable[P, T]:
    """one_line_errors, plus: a StormError is the user's to fix (exit 2, one line)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except StormError as exc:
            lines = entry_lines(exc)
            if lines:  # a refused edit: every problem, one line each
                for line in lines:
                    typer.echo(f"storm: error: {line}", err=True)
                raise typer.Exit(EXIT_BAD_INPUT) from None
            raise UserError(error_line(exc)) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return one_line_errors(wrapper)


def entry_lines(exc: StormError) -> list[str]:
    """One line per validation entry of a refused update (empty for other errors)."""
    details = exc.details
    entries = details.get("entries") if isinstance(details, dict) else None
    if exc.code != "invalid-update" or not isinstance(entries, list):
        return []
    return [" ".join(str(e.get("message", "")).split()) for e in entries if isinstance(e, dict)]


def error_line(exc: StormError) -> str:
    """The server's message, plus the first validation entry when it sent some."""
    message = exc.message
    details = exc.details
    entries = details.get("entries") if isinstance(details, dict) else None
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):
        first = entries[0]
        more = f" (and {len(entries) - 1} more)" if len(entries) > 1 else ""
        message = f"{message}: {first.get('message')}{more}"
    elif isinstance(details, list) and details and isinstance(details[0], dict):
        first = details[0]
        if "msg" in first:
            loc = ".".join(str(p) for p in first.get("loc") or [])
            message = f"{message}: {loc + ': ' if loc else ''}{first['msg']}"
    return " ".join(message.split())  # one line, whatever the server sent


def connect(server: str | None, token: str | None) -> Client:
    return Client(url=server, token=token)


def console() -> Console:
    return Console(highlight=False, soft_wrap=True, emoji=False)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


def styled(status: str | None) -> str:
    if status is None:
        return "-"
    return f"[{COLOURS.get(status, 'white')}]{escape(status)}[/]"


def when(value: Any) -> str:
    """Timestamps arrive as epoch seconds or ISO text; show local time to the second."""
    if value is None:
        return "-"
    if isinstance(value, int | float):
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
    return str(value).replace("T", " ")[:19]


def counts_line(counts: dict[str, int], phases: dict[str, int] | None = None) -> str:
    """`running 10 (2 executing, 8 queued), succeeded 4`: running split by phase."""
    parts = []
    for s in STATUSES:
        if counts.get(s):
            part = f"{styled(s)} {counts[s]}"
            if s == "running" and phases:
                part += f" ({phases_text(phases)})"
            parts.append(part)
    return ", ".join(parts) or "no nodes"


def phases_text(phases: dict[str, int]) -> str:
    return f"{phases.get('executing', 0)} executing, {phases.get('queued', 0)} queued"


def compact(value: Any, width: int = 60) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 3] + "..."


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`--set key=value` items to one merge patch.

    The value is JSON when it parses (`retries=3`, `env={"A": "1"}`, `x=null` removes
    a key), else a string (`instance_type=mem-64`). Dotted keys nest: `env.A=1`.
    """
    patch: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        parts = key.split(".")
        if not sep or not key or any(not p for p in parts):
            fail(f"bad --set {item!r}: expected key=value, e.g. --set retries=3 or --set env.A=1")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        if isinstance(value, float) and not math.isfinite(value):
            value = raw  # NaN/Infinity are not JSON the server accepts
        cursor = patch
        for part in parts[:-1]:
            cursor = cursor.setdefault(part, {})
            if not isinstance(cursor, dict):
                fail(f"bad --set {item!r}: {part!r} is already set to a value, not an object")
        last = parts[-1]
        if isinstance(cursor.get(last), dict) and isinstance(value, dict):
            _merge(cursor[last], value)
        elif last in cursor:
            fail(f"bad --set {item!r}: {key!r} is set twice")
        else:
            cursor[last] = value
    return patch


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(into.get(key), dict) and isinstance(value, dict):
            _merge(into[key], value)
        else:
            into[key] = value


def selection_args(
    nodes: list[str] | None,
    glob: str | None,
    status: list[str] | None,
    kind: list[str] | None,
) -> dict[str, Any]:
    """The selection keywords of Client.act; at least one filter (exit 2 otherwise)."""
    selection: dict[str, Any] = {}
    if nodes:
        selection["names"] = nodes
    if glob is not None:
        selection["glob"] = glob
    if status:
        for s in status:
            if s not in STATUSES:
                fail(f"unknown status {s!r} (one of {', '.join(STATUSES)})")
        selection["status"] = status
    if kind:
        selection["kind"] = kind
    if not selection:
        fail("no selection: give node names, --glob, --status or --kind")
    return selection


def print_answer(out: Console, answer: dict[str, Any], patch: dict[str, Any] | None) -> None:
    """An ActionAnswer for people: what changed, what the cascade touched, what was refused."""
    action = answer.get("action", "?")
    changed = answer.get("changed") or []
    cascaded = answer.get("cascaded") or []
    ineligible = answer.get("ineligible") or []
    # `changed` lists cascaded nodes too; count the selection's own changes apart.
    direct = [name for name in changed if name not in set(cascaded)]
    head = (
        f"[bold]{escape(str(action))}[/]: {answer.get('selected', 0)} selected, "
        f"{len(direct)} changed, {len(cascaded)} more retried by the cascade, "
        f"{len(ineligible)} ineligible"
    )
    if answer.get("replayed"):
        head += " [dim](repeated request: the first answer)[/]"
    out.print(head)
    if patch is not None:
        out.print(f"patch: {escape(json.dumps(patch, sort_keys=True))}")
    changes = answer.get("changes") or []
    if changes:
        snaps = {s["node"]: s["number"] for s in answer.get("snapshots") or []}
        table = Table(box=None, pad_edge=False)
        for column in ("node", "old", "", "new", "why", "snapshot"):
            table.add_column(column)
        for change in changes:
            why = str(change.get("why") or "")
            if change.get("caused_by"):
                why += f" from {change['caused_by']}"
            node = change.get("node") or "-"
            snap = snaps.get(node)
            table.add_row(
                escape(node),
                styled(change.get("old")),
                "->",
                styled(change.get("new")),
                escape(why),
                f"snap({snap})" if snap else "",
            )
        out.print(table)
    if cascaded:
        out.print(f"cascade: {escape(', '.join(cascaded))}")
    if ineligible:
        out.print("[yellow]ineligible (left unchanged):[/]")
        for item in ineligible:
            out.print(
                f"  {escape(str(item.get('node')))} ({styled(item.get('status'))}): "
                f"{escape(str(item.get('reason')))}"
            )
