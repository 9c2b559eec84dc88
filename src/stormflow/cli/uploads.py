"""`storm uploader` (the workstation's upload daemon) and `storm uploads` (what it moves).

The daemon serves the upload nodes bound to this host (`host:` in the node; the DCC client
sets it), reading and writing the store of `--db`/STORM_DB (or the data directory's SQLite).
`storm uploads` shows every active upload as a live table (bytes, rate, ETA per node, and
the files in flight), and pauses or resumes one.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stormflow.cli.common import fail, log_to_stderr, one_line_errors
from stormflow.cli.run import DataDir, DbUrl
from stormflow.cli.run import open_store as open_db
from stormflow.paths import data_dir as default_data_dir

if TYPE_CHECKING:
    from rich.table import Table

    from stormflow.store import Store

ACTIVE = ("waiting", "checking", "sending", "paused")


def register(app: typer.Typer) -> None:
    app.command("uploader")(uploader_command)
    app.command("uploads")(uploads_command)


@one_line_errors
def uploader_command(
    data_dir: DataDir = None,
    db: DbUrl = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Serve nodes bound to this host (default: ours).")
    ] = None,
    slots: Annotated[int, typer.Option("--slots", min=1, help="Upload nodes at once.")] = 2,
    install_service: Annotated[
        bool,
        typer.Option(
            "--install-service",
            help="Write a systemd user unit (~/.config/systemd/user) running this daemon.",
        ),
    ] = False,
) -> None:
    """Run the upload daemon for this workstation until stopped (SIGTERM/Ctrl-C)."""
    root = default_data_dir(data_dir)
    if install_service:
        from stormflow.uploads.daemon import SERVICE_NAME, service_unit

        exe = shutil.which("storm") or f"{sys.executable} -m stormflow"
        unit_dir = (
            Path(os.environ.get("XDG_CONFIG_HOME", str(Path.home() / ".config")))
            / "systemd"
            / "user"
        )
        unit_dir.mkdir(parents=True, exist_ok=True)
        path = unit_dir / SERVICE_NAME
        path.write_text(service_unit(exe, root, db))
        typer.echo(f"wrote {path}")
        typer.echo(f"start it with: systemctl --user enable --now {SERVICE_NAME}")
        return
    from stormflow.client import UPLOADER_PID, uploader_pid
    from stormflow.paths import private_dir, write_private
    from stormflow.uploads.daemon import Uploader, install_signals

    running = uploader_pid(str(root))
    if running is not None and running != os.getpid():
        fail(f"an uploader already runs for {root} (pid {running})")
    log_to_stderr()
    store = open_db(root, db)
    uploader = Uploader(store, root, host=host, slots=slots)
    install_signals(uploader)
    pidfile = private_dir(root) / UPLOADER_PID
    write_private(pidfile, f"{os.getpid()} {uploader.owner}\n".encode())
    typer.echo(f"storm uploader: serving uploads of {uploader.host} ({uploader.owner})", err=True)
    try:
        uploader.serve_forever()
    finally:
        pidfile.unlink(missing_ok=True)
        store.close()


def _split(text: str) -> tuple[str, str]:
    workflow_id, sep, node = text.partition(":")
    if not sep or not workflow_id or not node:
        fail(f"expected WORKFLOW:NODE, got {text!r}")
    return workflow_id, node


@one_line_errors
def uploads_command(
    data_dir: DataDir = None,
    db: DbUrl = None,
    host: Annotated[str | None, typer.Option("--host", help="Only this host's uploads.")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Finished uploads too, not only active ones.")
    ] = False,
    once: Annotated[bool, typer.Option("--once", help="Print the table once and exit.")] = False,
    pause: Annotated[
        str | None, typer.Option("--pause", metavar="WORKFLOW:NODE", help="Pause an upload.")
    ] = None,
    resume: Annotated[
        str | None, typer.Option("--resume", metavar="WORKFLOW:NODE", help="Resume an upload.")
    ] = None,
) -> None:
    """Show active uploads live (Ctrl-C to leave), or pause/resume one."""
    store = open_db(default_data_dir(data_dir), db)
    try:
        for text, paused in ((pause, True), (resume, False)):
            if text is None:
                continue
            workflow_id, node = _split(text)
            if not store.set_upload_paused(workflow_id, node, paused):
                fail(f"workflow {workflow_id!r} has no upload node {node!r}")
            typer.echo(f"{'paused' if paused else 'resumed'} {workflow_id}:{node}")
        if pause is not None or resume is not None:
            return
        from rich.console import Console
        from rich.live import Live

        console = Console()
        if not console.is_terminal:
            console = Console(width=160)  # piped: whole ids, not an 80-column cut
        if once or not console.is_terminal:
            console.print(uploads_table(store, host, every))
            return
        with Live(uploads_table(store, host, every), console=console, auto_refresh=False) as live:
            try:
                while True:
                    time.sleep(0.5)
                    live.update(uploads_table(store, host, every), refresh=True)
            except KeyboardInterrupt:
                pass
    finally:
        store.close()


def uploads_table(store: Store, host: str | None = None, every: bool = False) -> Table:
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    from stormflow.uploads.transfer import human

    table = Table(title="uploads", expand=False)
    for column in ("workflow:node", "state", "progress", "done / total", "files", "rate", "ETA"):
        table.add_column(column, no_wrap=True)
    rows = [r for r in store.uploads(host=host) if every or r["state"] in ACTIVE]
    started = {(r["workflow_id"], r["node"]) for r in rows}
    queued = [
        (w, n) for w, n, _t in store.pending_uploads(time.time(), limit=200)
        if (w, n) not in started
    ]  # fmt: skip
    for workflow_id, node in queued:  # waiting for an uploader (or a slot) to claim them
        table.add_row(f"{workflow_id}:{node}", "queued", "", "", "", "", "")
    if not rows and not queued:
        table.add_row("(no active uploads)", "", "", "", "", "", "")
    for row in rows:
        state = "paused" if row["paused"] and row["state"] in ACTIVE else str(row["state"])
        total, done = int(row["bytes_total"]), int(row["bytes_done"])
        rate = float(row["rate"])
        table.add_row(
            f"{row['workflow_id']}:{row['node']}",
            state,
            ProgressBar(total=max(total, 1), completed=done, width=24),
            f"{human(done)} / {human(total)}",
            f"{row['files_done']}/{row['files_total']}",
            f"{human(rate)}/s" if rate else "-",
            eta_text(total - done, rate),
        )
        if state in ("sending", "paused"):
            for f in store.uploaded_files(row["workflow_id"], row["node"], limit=10000):
                if f["state"] != "sending":
                    continue
                table.add_row(
                    f"  {f['key']}",
                    "",
                    ProgressBar(
                        total=max(int(f["size"]), 1), completed=int(f["bytes_done"]), width=24
                    ),
                    f"{human(int(f['bytes_done']))} / {human(int(f['size']))}",
                    "",
                    "",
                    "",
                )
    return table


def eta_text(left: float, rate: float) -> str:
    if left <= 0:
        return "0s"
    if rate <= 0:
        return "-"
    seconds = int(left / rate)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
