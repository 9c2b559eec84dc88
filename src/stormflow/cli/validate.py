"""`storm validate FILE [--fix NAME ...] [--json] [--write OUT]`."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from stormflow.cli.common import (
    EXIT_BAD_INPUT,
    Sets,
    entry_location,
    fail,
    one_line_errors,
    param_values,
    read_document_data,
)

if TYPE_CHECKING:  # the spec loads when the command runs, not with every `storm` call
    from stormflow.spec.entries import Entry

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}  # per Severity


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_command)


@one_line_errors
def validate_command(
    file: Annotated[str, typer.Argument(help="Workflow document (YAML or JSON).")],
    fix: Annotated[
        list[str] | None,
        typer.Option("--fix", help="Apply this fixer (repeatable, applied in order)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print entries as JSON.")] = False,
    write: Annotated[
        str | None,
        typer.Option("--write", help="Save the (fixed) document here; '-' prints it."),
    ] = None,
    sets: Sets = None,
) -> None:
    """Check a workflow document; list problems and the fixers that correct them.

    A template (a document with params) is checked with its defaults and stand-ins for
    the params without one; with --set, as the instance those values make."""
    from stormflow.spec.document import _with_line
    from stormflow.spec.entries import Severity

    data, lines = read_document_data(file)
    values = param_values(sets) if sets else None
    validate = functools.partial(_checked, base=Path(file).resolve(), values=values)
    applied: list[str] = []
    for name in fix or []:
        entries = validate(data)
        fixer = next((f for e in entries for f in e.fixers if f.name == name), None)
        if fixer is None:
            available = sorted({f.name for e in entries for f in e.fixers})
            hint = f" (available: {', '.join(available)})" if available else " (none available)"
            fail(f"no fixer named {name!r} for {file}{hint}")
        data = fixer.apply(data)
        applied.append(name)
    entries = [_with_line(e, lines) for e in validate(data)] if not applied else validate(data)

    # With `--write -` the document owns stdout, so the report goes to stderr.
    console = Console(stderr=write == "-", highlight=False, soft_wrap=True, emoji=False)
    if as_json:
        console.print_json(json.dumps([e.to_dict() for e in entries]))
    else:
        _report(console, file, entries, applied)
    if write is not None:
        _write(data, write, file)
    elif applied and not as_json:
        console.print(f"[dim]{len(applied)} fixer(s) applied; use --write OUT to save them.[/]")
    if any(e.severity is Severity.ERROR for e in entries):
        raise typer.Exit(EXIT_BAD_INPUT)


def _checked(data: Any, *, base: Path, values: dict[str, str] | None) -> list[Entry]:
    """The document's entries, with its `workflow` nodes' template and for_each files read
    relative to it (stored templates' names are checked by the server that holds them)."""
    from stormflow.spec.templates import resolve_checked
    from stormflow.spec.validate import validate

    resolved, problems = resolve_checked(
        data, base_dir=base.parent, source=f"file:{base}", strict=False
    )
    found = validate(resolved, values)
    if problems:  # the nodes it could not resolve are named by these, not again below
        return [*problems, *(e for e in found if e.code != "unresolved-template")]
    return found


def _report(console: Console, file: str, entries: list[Entry], applied: list[str]) -> None:
    from stormflow.spec.entries import Severity

    for name in applied:
        console.print(f"[green]fixed[/] {escape(name)}")
    if not entries:
        console.print(f"[green]{escape(file)}: valid[/]")
        return
    for severity in Severity:
        group = [e for e in entries if e.severity is severity]
        if not group:
            continue
        console.print(f"[{_STYLE[severity]}]{severity.value}s ({len(group)})[/]")
        for entry in group:
            where = entry_location(entry)
            suffix = f" [dim]({escape(where)})[/]" if where else ""
            console.print(f"  [bold]{entry.code}[/]: {escape(entry.message)}{suffix}")
            for fixer in entry.fixers:
                name, description = escape(fixer.name), escape(fixer.description)
                console.print(f"    [dim]fix:[/] --fix {name}  [dim]{description}[/]")
    counts = {s: sum(e.severity is s for e in entries) for s in Severity}
    console.print(
        f"{escape(file)}: {counts[Severity.ERROR]} error(s), "
        f"{counts[Severity.WARNING]} warning(s), {counts[Severity.INFO]} info"
    )


def _write(data: Any, out: str, source: str) -> None:
    from stormflow.spec.document import to_json, to_yaml

    as_json = out.endswith(".json") or (out == "-" and source.endswith(".json"))
    text = to_json(data) + "\n" if as_json else to_yaml(data)
    if out == "-":
        typer.echo(text, nl=False)
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
