"""The `storm` app. Add a command module with one `register(app)` line below."""

from __future__ import annotations

from typing import Annotated

import typer
from typer.core import TyperCommand

import stormflow
from stormflow.cli import (
    plan,
    plugins,
    providers,
    prune,
    remote_actions,
    remote_nodes,
    remote_templates,
    remote_workflows,
    run,
    scheduler,
    server,
    uploads,
    validate,
    worker,
)
from stormflow.cli.helptext import Command, Group

app = typer.Typer(
    name="storm",
    help="Storm: workflows for render farms.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"storm {stormflow.__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print Storm's version and exit.", is_eager=True, callback=_version
        ),
    ] = False,
) -> None:
    """Storm: workflows for render farms."""


validate.register(app)
plan.register(app)
run.register(app)
scheduler.register(app)
server.register(app)
remote_workflows.register(app)
remote_actions.register(app)
remote_nodes.register(app)
remote_templates.register(app)
worker.register(app)
prune.register(app)
uploads.register(app)
plugins.register(app)
providers.register(app)

for _info in app.registered_commands:  # plain help pages, one-line usage errors
    if _info.cls in (None, TyperCommand):
        _info.cls = Command


if __name__ == "__main__":  # pragma: no cover
    app()
