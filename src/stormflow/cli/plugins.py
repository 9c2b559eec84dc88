"""`storm plugins`: installed plugins, what each adds, their health, and the DCC integrations.

Without `--server` it lists what this environment loads (what `storm run`, `storm worker`
and a server started from it see); with `--server` (or `--remote`) it asks a running
server, whose answer also holds plugins that failed since it started and which add-on
versions talked to it ("update available").
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from stormflow.cli.common import fail
from stormflow.cli.remote import Json, Server, Token, connect, console, print_json, remote_command

ADDS = ("kinds", "notifications", "rules", "providers", "integrations")


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins_command)


@remote_command
def plugins_command(
    name: Annotated[
        str | None, typer.Argument(help="Show this plugin or DCC integration only.")
    ] = None,
    remote: Annotated[
        bool, typer.Option("--remote", help="Ask the running server (found as storm ls does).")
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit with code 1 when a plugin failed (deploy scripts)."),
    ] = False,
    server: Server = None,
    token: Token = None,
    as_json: Json = False,
) -> None:
    """Installed plugins with what each adds and their health, and the DCC integrations."""
    if remote or server or token:
        data: dict[str, Any] = connect(server, token).request("GET", "/plugins")
    else:
        from stormflow.kinds import kind_names
        from stormflow.plugins.report import report

        kind_names()  # loads the built-ins and the installed plugins
        data = report()
    plugins = data.get("plugins") or []
    integrations = data.get("integrations") or []
    if name is not None:
        plugins = [p for p in plugins if p.get("name") == name]
        integrations = [i for i in integrations if i.get("name") == name]
        if not plugins and not integrations:
            known = sorted(
                {str(p.get("name")) for p in data.get("plugins") or []}
                | {str(i.get("name")) for i in data.get("integrations") or []}
            )
            fail(f"no plugin or DCC integration named {name!r} (known: {', '.join(known)})")
    failed = [str(p.get("name")) for p in plugins if p.get("status") != "loaded"]
    if as_json:
        print_json({**data, "plugins": plugins, "integrations": integrations})
    else:
        _print(plugins, integrations)
    if check and failed:
        typer.echo(f"storm: plugins failed: {', '.join(failed)}", err=True)
        raise typer.Exit(1)


def _print(plugins: list[dict[str, Any]], integrations: list[dict[str, Any]]) -> None:
    out = console()
    for plugin in plugins:
        ok = plugin.get("status") == "loaded"
        status = "[green]loaded[/]" if ok else "[red]failed[/]"
        version = plugin.get("version") or "?"
        out.print(
            f"[bold]{escape(str(plugin.get('name')))}[/] {escape(str(version))}  {status}"
            f"  [dim]api {plugin.get('api_version')}, {escape(str(plugin.get('entry_point')))}[/]"
        )
        if not ok:
            out.print(
                f"  [red]failed in {escape(str(plugin.get('failed_in')))}: "
                f"{escape(str(plugin.get('error')))}[/]"
            )
        adds = plugin.get("adds") or {}
        for key in ADDS:
            if adds.get(key):
                out.print(f"  {key}: {escape(', '.join(map(str, adds[key])))}")
    if integrations:
        if plugins:
            out.print()
        out.print("[bold]DCC integrations[/]")
    for item in integrations:
        line = (
            f"  [bold]{escape(str(item.get('title')))}[/] ({escape(str(item.get('name')))}) "
            f"{escape(str(item.get('version')))}  from {escape(str(item.get('plugin')))}"
        )
        seen = item.get("last_seen")
        if seen:
            line += f"  last seen {escape(str(seen.get('version')))}"
        if item.get("update_available"):
            line += "  [yellow]update available[/]"
        out.print(line)
        if item.get("download_url"):
            out.print(f"    download: {escape(str(item['download_url']))}")
        for number, step in enumerate(item.get("install") or [], start=1):
            out.print(f"    {number}. {escape(str(step))}")
