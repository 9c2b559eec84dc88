"""`storm hold|unhold|skip|cancel|retry|revert|update|replay WF [NODES...] [filters]`.

Each is one action on a selection, one transaction on the server. The selection is
every node matching all given filters: exact names, `--glob`, `--status` (repeat
for several), `--kind`. Nodes the action is not allowed on are listed with the
reason and left unchanged; `--strict` refuses the whole action instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from stormflow.cli.common import fail
from stormflow.cli.remote import (
    Json,
    Server,
    Token,
    WorkflowId,
    connect,
    console,
    parse_sets,
    print_answer,
    print_json,
    remote_command,
    selection_args,
)

Nodes = Annotated[list[str] | None, typer.Argument(help="Node names (exact), e.g. render.1-4.")]
Glob = Annotated[str | None, typer.Option("--glob", help="Nodes whose name matches this glob.")]
StatusFilter = Annotated[
    list[str] | None, typer.Option("--status", help="Nodes in this status (repeatable).")
]
KindFilter = Annotated[list[str] | None, typer.Option("--kind", help="Nodes of this kind.")]
Strict = Annotated[
    bool, typer.Option("--strict", help="Refuse everything if any selected node is ineligible.")
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]

#: Actions that stop work or throw results away: confirm them at a terminal, even on one node.
DESTRUCTIVE = {"skip", "cancel"}

#: What the action does to the nodes it changes itself, for the confirmation.
DOES = {
    "hold": "held",
    "unhold": "released",
    "skip": "skipped",
    "cancel": "canceled",
}

HELP = {
    "hold": "Hold nodes: open -> holding; they will not run until unheld.",
    "unhold": "Release held nodes: holding -> open.",
    "skip": "Skip nodes: downstream runs as if they had succeeded (stops running ones).",
    "cancel": "Cancel nodes: stop running ones; withdraws readiness of succeeded/skipped ones.",
    "retry": "Rerun nodes unchanged (snapshot kept); their started descendants rerun too. "
    "--to holding stops running nodes and holds them.",
    "revert": "Drop every edit (back to the submitted configuration) and rerun; nodes "
    "without edits are left alone (nothing to revert).",
}


To = Annotated[
    str | None,
    typer.Option(
        "--to",
        help="Start status afterwards: open or holding (default: submitted). "
        "storm retry --to holding on running nodes stops and holds them.",
    ),
]


def register(app: typer.Typer) -> None:
    for action, text in HELP.items():
        app.command(action, help=text)(_rerun(action) if action in RERUNS else _simple(action))
    app.command("update")(update_command)
    app.command("replay")(replay_command)


#: The update family's simple commands: they take a target start status.
RERUNS = {"retry", "revert"}


def _checked_target(to: str | None) -> str | None:
    if to is not None and to not in ("open", "holding", "submitted"):
        fail(f"bad --to {to!r}: open or holding")
    return to


def _rerun(action: str) -> Callable[..., None]:
    @remote_command
    def command(
        workflow_id: WorkflowId,
        nodes: Nodes = None,
        glob: Glob = None,
        status: StatusFilter = None,
        kind: KindFilter = None,
        to: To = None,
        strict: Strict = False,
        yes: Yes = False,
        server: Server = None,
        token: Token = None,
        as_json: Json = False,
    ) -> None:
        target = _checked_target(to)
        run_action(
            action,
            workflow_id,
            nodes,
            glob,
            status,
            kind,
            strict,
            yes,
            server,
            token,
            as_json,
            target=target,
        )

    command.__name__ = f"{action}_command"
    return command


def _simple(action: str) -> Callable[..., None]:
    @remote_command
    def command(
        workflow_id: WorkflowId,
        nodes: Nodes = None,
        glob: Glob = None,
        status: StatusFilter = None,
        kind: KindFilter = None,
        strict: Strict = False,
        yes: Yes = False,
        server: Server = None,
        token: Token = None,
        as_json: Json = False,
    ) -> None:
        run_action(
            action, workflow_id, nodes, glob, status, kind, strict, yes, server, token, as_json
        )

    command.__name__ = f"{action}_command"
    return command


@remote_command
def update_command(
    workflow_id: WorkflowId,
    nodes: Nodes = None,
    glob: Glob = None,
    status: StatusFilter = None,
    kind: KindFilter = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="key=value to change (repeatable); value is JSON if it parses, dotted keys "
            "nest (env.A=1), null removes a key.",
        ),
    ] = None,
    to: To = None,
    strict: Strict = False,
    yes: Yes = False,
    server: Server = None,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """Edit nodes' configuration and rerun them (a snapshot keeps what they were).

    storm update WF --status failed --glob 'render.*' --set instance_type=mem-64
    """
    if not set_:
        fail("update needs at least one --set key=value (storm retry reruns unchanged)")
    patch = parse_sets(set_)
    _checked_target(to)
    run_action(
        "update",
        workflow_id,
        nodes,
        glob,
        status,
        kind,
        strict,
        yes,
        server,
        token,
        as_json,
        patch=patch,
        target=to,
    )


@remote_command
def replay_command(
    workflow_id: WorkflowId,
    nodes: Annotated[list[str], typer.Argument(help="Node names (exact).")],
    snapshot: Annotated[
        int, typer.Option("--snapshot", min=1, help="Snapshot number (storm history lists them).")
    ],
    strict: Strict = False,
    yes: Yes = False,
    server: Server = None,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """Make the configuration stored in snapshot N current again, and rerun."""
    run_action(
        "replay",
        workflow_id,
        nodes,
        None,
        None,
        None,
        strict,
        yes,
        server,
        token,
        as_json,
        snapshot=snapshot,
    )


def run_action(
    action: str,
    workflow_id: str,
    nodes: list[str] | None,
    glob: str | None,
    status: list[str] | None,
    kind: list[str] | None,
    strict: bool,
    yes: bool,
    server: str | None,
    token: str | None,
    as_json: bool,
    *,
    patch: dict[str, Any] | None = None,
    target: str | None = None,
    snapshot: int | None = None,
) -> None:
    selection = selection_args(nodes, glob, status, kind)
    client = connect(server, token)
    request: dict[str, Any] = dict(
        patch=patch, target=target, snapshot=snapshot, strict=strict, **selection
    )
    if not yes and not as_json and interactive():
        # the server's dry run says what would happen now; the question quotes it
        preview = client.act(workflow_id, action, dry_run=True, **request)
        counts = preview.get("counts") or {}
        touched = int(counts.get("direct", 0)) + int(counts.get("cascaded", 0))
        if touched and (action in DESTRUCTIVE or not nodes or touched > 1):
            typer.confirm(consequences(action, workflow_id, preview, target), abort=True)
    answer = client.act(workflow_id, action, **request)
    if as_json:
        print_json(answer)
        return
    print_answer(console(), answer, patch)


def interactive() -> bool:
    """Whether a person answers at a terminal (the confirmation is skipped otherwise)."""
    return sys.stdin.isatty()


def consequences(action: str, workflow_id: str, preview: dict[str, Any], target: str | None) -> str:
    """A dry run's answer as one question: "Retry 240 nodes of WF: 240 restart, 1,200
    downstream reset (snapshots kept)?"."""
    counts = preview.get("counts") or {}
    selected = int(counts.get("selected", 0))
    parts = []
    direct = int(counts.get("direct", 0))
    if direct:
        does = DOES.get(action) or ("to holding" if target == "holding" else "restart")
        parts.append(f"{direct:,} {does}")
    stopped = int(counts.get("stopped", 0))
    if stopped:
        parts.append(f"{stopped:,} running attempt{'s' if stopped != 1 else ''} stopped")
    cascaded = int(counts.get("cascaded", 0))
    if cascaded:
        parts.append(f"{cascaded:,} downstream reset")
    ineligible = int(counts.get("ineligible", 0))
    if ineligible:
        parts.append(f"{ineligible:,} ineligible (left unchanged)")
    kept = " (snapshots kept)" if counts.get("snapshots") else ""
    noun = "node" if selected == 1 else "nodes"
    return f"{action.capitalize()} {selected:,} {noun} of {workflow_id}: {', '.join(parts)}{kept}?"
