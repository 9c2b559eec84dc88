"""`storm providers add/ls/show/rm`: the systems external nodes hand work to (via a server)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from stormflow.cli.common import fail, read_document_data
from stormflow.cli.helptext import Command, Group
from stormflow.cli.remote import Json, Server, Token, connect, console, print_json, remote_command

providers_app = typer.Typer(
    name="providers",
    help="Providers: the systems external nodes hand work to (docs/external.md).",
    no_args_is_help=True,
    cls=Group,
)

ProviderName = Annotated[str, typer.Argument(help="Provider name, e.g. farm.")]


def register(app: typer.Typer) -> None:
    app.add_typer(providers_app, name="providers")


def configs_in(path: str) -> list[dict[str, Any]]:
    """The provider configurations a YAML/JSON file holds: one mapping, a list of them, or
    `providers: [...]`. Each is checked here first: a bad one names its field (exit 2)."""
    from stormflow.engine.providers import parse_config

    data, _lines = read_document_data(path)
    if isinstance(data, dict) and isinstance(data.get("providers"), list):
        data = data["providers"]
    items = data if isinstance(data, list) else [data]
    if not items:
        fail(f"{path}: no provider in it")
    found = []
    for index, item in enumerate(items):
        where = f"{path}" if len(items) == 1 else f"{path}: providers[{index}]"
        if not isinstance(item, dict):
            fail(f"{where}: a provider is a mapping (name, kind, submit, status, ...)")
        try:
            found.append(parse_config(item).public())
        except ValueError as exc:
            fail(f"{where}: {exc}")
    return found


@providers_app.command("add", cls=Command)
@remote_command
def add_command(
    path: Annotated[str, typer.Argument(help="YAML or JSON file: one provider or a list.")],
    server: Server = None,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """Add (or replace) the providers a file describes."""
    configs = configs_in(path)
    client = connect(server, token)
    answers = [client.put_provider(c["name"], c) for c in configs]
    if as_json:
        print_json(answers[0] if len(answers) == 1 else answers)
        return
    for answer in answers:
        console().print(f"provider {escape(answer['name'])} ({answer['kind']}) saved")


@providers_app.command("ls", cls=Command)
@remote_command
def ls_command(server: Server = None, token: Token = None, as_json: Json = False) -> None:
    """List the providers, with how many jobs wait on each."""
    rows = connect(server, token).providers()
    if as_json:
        print_json(rows)
        return
    out = console()
    if not rows:
        out.print("no providers (storm providers add FILE)")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("provider", "kind", "where", "max", "waiting", "webhook"):
        table.add_column(column, justify="right" if column in ("max", "waiting") else "left")
    for row in rows:
        config = row["config"]
        where = config.get("base_url") or " ".join(config.get("submit", {}).get("command") or [])
        table.add_row(
            escape(row["name"]),
            row["kind"],
            escape(str(where)),
            str(config.get("max_concurrent", "-")),
            str(row["waiting"]),
            escape(row["webhook"] or "-"),
        )
    out.print(table)


@providers_app.command("show", cls=Command)
@remote_command
def show_command(name: ProviderName, server: Server = None, token: Token = None) -> None:
    """One provider's configuration (environment variable names, never secrets), as JSON."""
    print_json(connect(server, token).provider(name))


@providers_app.command("rm", cls=Command)
@remote_command
def rm_command(name: ProviderName, server: Server = None, token: Token = None) -> None:
    """Remove a provider (jobs still waiting on it fail at their next poll)."""
    connect(server, token).remove_provider(name)
    console().print(f"provider {escape(name)} removed")
