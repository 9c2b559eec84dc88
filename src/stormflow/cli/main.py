"""The `storm` app. Add a command module with one `register(app)` line below."""

from __future__ import annotations

import typer

from stormflow.cli import (
    plan,
    prune,
    remote_actions,
    remote_nodes,
    remote_workflows,
    run,
    scheduler,
    server,
    validate,
    worker,
)

app = typer.Typer(
    name="storm",
    help="Storm: workflows for render farms.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

validate.register(app)
plan.register(app)
run.register(app)
scheduler.register(app)
server.register(app)
remote_workflows.register(app)
remote_actions.register(app)
remote_nodes.register(app)
worker.register(app)
prune.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
