"""`storm templates add/ls/show/rm`: workflow templates stored on the server.

A template is a document with `params`; `storm run FILE --set ...` instantiates a file,
`storm templates add` keeps one on the server for the Composer's library, `workflow`
nodes that name it and `Client.submit_template`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from stormflow.cli.common import fail, read_document_data
from stormflow.cli.helptext import Command, Group
from stormflow.cli.remote import Json, Server, Token, connect, console, print_json, remote_command

TemplateName = Annotated[str, typer.Argument(help="Template name (storm templates ls).")]

app = typer.Typer(
    name="templates",
    help="Workflow templates stored on the server (documents with params).",
    no_args_is_help=True,
    cls=Group,
)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="templates")


def _params_text(params: list[dict[str, Any]]) -> str:
    parts = []
    for p in params:
        text = f"{p['name']}:{p['type']}"
        if p.get("default") is not None:
            text += f"={p['default']}"
        parts.append(text)
    return ", ".join(parts) or "-"


@app.command("add", cls=Command)
@remote_command
def add_command(
    file: Annotated[str, typer.Argument(help="Template document (YAML or JSON).")],
    store_as: Annotated[
        str | None, typer.Option("--name", help="Name to store it as (default: the file's).")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a template of that name.")
    ] = False,
    server: Server = None,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """Check a template and store it on the server (files it names are read here)."""
    from stormflow.spec.templates import resolve_checked

    data, _lines = read_document_data(file)
    if not isinstance(data, dict):
        fail(f"{file}: a template is a mapping at the top level")
    path = Path(file).resolve()
    # files its `workflow` nodes name are inlined: the server reads no files
    data, entries = resolve_checked(data, base_dir=path.parent, source=f"file:{path}", strict=False)
    if entries:
        fail(f"{file}: {entries[0].message}")
    answer = connect(server, token).add_template(data, name=store_as or path.stem, replace=replace)
    if as_json:
        print_json(answer)
        return
    console().print(
        f"stored template [bold]{escape(answer['name'])}[/] "
        f"(params: {escape(_params_text(answer['params']))})"
    )


@app.command("ls", cls=Command)
@remote_command
def ls_command(server: Server = None, token: Token = None, as_json: Json = False) -> None:
    """List the stored templates and their params."""
    templates = connect(server, token).templates()
    if as_json:
        print_json(templates)
        return
    out = console()
    if not templates:
        out.print("no stored templates (storm templates add FILE)")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "PARAMS", "DESCRIPTION"):
        table.add_column(column)
    for t in templates:
        table.add_row(
            escape(t["name"]), escape(_params_text(t["params"])), escape(t["description"] or "")
        )
    out.print(table)


@app.command("show", cls=Command)
@remote_command
def show_command(
    name: TemplateName, server: Server = None, token: Token = None, as_json: Json = False
) -> None:
    """Show a stored template: its params and its document (YAML)."""
    from stormflow.spec.document import to_yaml

    template = connect(server, token).template(name)
    if as_json:
        print_json(template)
        return
    out = console()
    out.print(f"[bold]{escape(template['name'])}[/]  {escape(template['description'] or '')}")
    for p in template["params"]:
        extra = f" = {p['default']!r}" if p.get("default") is not None else " (required)"
        choices = f" one of {', '.join(p['choices'])}" if p.get("choices") else ""
        about = f"  {p['description']}" if p.get("description") else ""
        out.print(f"  {escape(p['name'])}: {p['type']}{escape(choices + extra + about)}")
    typer.echo(to_yaml(template["document"]), nl=False)


@app.command("rm", cls=Command)
@remote_command
def rm_command(name: TemplateName, server: Server = None, token: Token = None) -> None:
    """Remove a stored template (workflows made from it are not affected)."""
    connect(server, token).delete_template(name)
    console().print(f"removed template [bold]{escape(name)}[/]")
