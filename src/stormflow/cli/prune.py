"""`storm prune --older-than 90d`: remove workflows archived longer ago than that."""

from __future__ import annotations

from typing import Annotated

import typer

from stormflow.cli.common import fail, one_line_errors
from stormflow.cli.run import DataDir, DbUrl
from stormflow.cli.scheduler import open_store


def register(app: typer.Typer) -> None:
    app.command("prune")(prune_command)


@one_line_errors
def prune_command(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", help="Remove workflows archived longer ago than this (90d, 12h)."
        ),
    ],
    data_dir: DataDir = None,
    db: DbUrl = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be removed.")
    ] = False,
) -> None:
    """Remove archived workflows with their events, attempts, snapshots and log files.

    In small transactions: a running scheduler never waits on it."""
    import time

    from stormflow.engine.retention import parse_duration, prune

    try:
        age = parse_duration(older_than)
    except ValueError as exc:
        fail(f"--older-than: {exc}")
    store, settings = open_store(data_dir, db)
    try:
        if dry_run:
            found = store.prunable(time.time() - age, limit=10**9)
            typer.echo(f"{len(found)} archived workflow(s) would be removed")
            return
        removed = prune(store, settings.data_dir, age)
        typer.echo(f"removed {len(removed)} archived workflow(s)")
    finally:
        store.close()
