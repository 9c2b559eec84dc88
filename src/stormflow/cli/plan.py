"""`storm plan FILE [--json]`: what the document expands to."""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from stormflow.cli.common import (
    Sets,
    fail,
    instantiated_document,
    one_line_errors,
    read_document_data,
)

if TYPE_CHECKING:  # the spec loads when the command runs, not with every `storm` call
    from stormflow.spec.document import Document
    from stormflow.spec.expand import Plan


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_command)


@one_line_errors
def plan_command(
    file: Annotated[str, typer.Argument(help="Workflow document (YAML or JSON).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    sets: Sets = None,
) -> None:
    """Show the expanded plan: nodes per authored node, chunks, statuses, edges."""
    from stormflow.spec.document import check_data
    from stormflow.spec.entries import DocumentError, Severity
    from stormflow.spec.expand import expand

    _data, lines = read_document_data(file)
    data = instantiated_document(file, sets, strict=False)
    document, entries = check_data(data, lines)
    if document is None:
        errors = [e for e in entries if e.severity is Severity.ERROR]
        first = errors[0].message if errors else "invalid document"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        fail(f"{file}: {first}{more}; run `storm validate {file}`")
    try:
        plan = expand(document)
    except DocumentError as exc:  # a stored template's name: the server resolves it
        fail(f"{file}: {exc}")
    summary = summarize(plan, document)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    console = Console(highlight=False, soft_wrap=True, emoji=False)
    table = Table(title=f"{summary['name']}: {summary['nodes']} nodes, {summary['edges']} edges")
    for column in ("node", "kind", "chunks", "frames", "open", "holding"):
        table.add_column(
            column, justify="right" if column in ("chunks", "open", "holding") else "left"
        )
    for group in summary["groups"]:
        table.add_row(
            group["name"],
            group["kind"],
            str(group["chunks"]),
            group["frames"] or "",
            str(group["statuses"].get("open", 0)),
            str(group["statuses"].get("holding", 0)),
        )
    console.print(table)


def summarize(plan: Plan, document: Document) -> dict[str, Any]:
    ranges = {n.name: n.params.get("frames") for n in document.nodes}
    groups = []
    for name, members in plan.groups().items():
        chunked = members[0].group is not None
        groups.append(
            {
                "name": name,
                "kind": members[0].kind,
                "chunks": len(members) if chunked else 0,
                "frames": ranges.get(name) if chunked else None,
                "statuses": dict(Counter(str(m.status) for m in members)),
            }
        )
    return {
        "name": plan.name,
        "nodes": len(plan.nodes),
        "edges": len(plan.edges),
        "statuses": dict(Counter(str(n.status) for n in plan.nodes)),
        "groups": groups,
    }
