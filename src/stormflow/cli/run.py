"""`storm run FILE` and `storm resume ID`: run a workflow to completion on this machine.

The embedded default: SQLite in the data directory, the local executor, the
scheduler in this process. Exit code 0 when the workflow succeeds, 1 when it
fails or is left holding, 2 on bad input.
"""

from __future__ import annotations

import getpass
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from stormflow.cli.common import Sets, fail, instantiated_document, one_line_errors
from stormflow.paths import data_dir as default_data_dir

if TYPE_CHECKING:  # imported where used: every `storm` call loads this module
    from stormflow.engine.ownership import Holder
    from stormflow.engine.scheduler import Scheduler
    from stormflow.store import Store

DataDir = Annotated[
    str | None,
    typer.Option("--data-dir", envvar="STORM_HOME", help="Data directory (default ~/.storm)."),
]
DbUrl = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="STORM_DB",
        help="Database URL, e.g. postgresql+psycopg://host/storm (default: SQLite in data dir).",
    ),
]
Slots = Annotated[
    int | None, typer.Option("--slots", min=1, help="Tasks run at once (default: CPU count).")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No live display; summary only.")]


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("resume")(resume_command)


def open_store(root: Path, db: str | None) -> Store:
    """The store of `--db`/STORM_DB, else SQLite in the data directory; a URL that cannot
    be opened is the user's to fix (one line, exit 2), with its password left out."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from stormflow.store import Store

    if not db:
        return Store.default(root)
    try:
        shown = make_url(db).render_as_string(hide_password=True)
    except ArgumentError:
        fail(f"--db {db!r} is not a database URL (e.g. postgresql+psycopg://host/storm)")
    try:
        return Store(db)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(f"cannot open the database {shown}: {reason[0] if reason else type(exc).__name__}")


@one_line_errors
def run_command(
    file: Annotated[str, typer.Argument(help="Workflow document (YAML or JSON).")],
    data_dir: DataDir = None,
    db: DbUrl = None,
    slots: Slots = None,
    quiet: Quiet = False,
    sets: Sets = None,
) -> None:
    """Submit a workflow and run it to completion here, with live progress."""
    from stormflow.spec import expand, validate

    root = default_data_dir(data_dir)
    opened: list[Store] = []

    def stored_template(name: str) -> Any:
        # the store is opened only when a `workflow` node names a stored template
        if not opened:
            opened.append(open_store(root, db))
        return opened[0].find_template(name)

    data = instantiated_document(file, sets, lookup=stored_template)
    errors = [e for e in validate(data) if e.severity == "error"]
    if errors:
        first = errors[0]
        more = (
            f" (and {len(errors) - 1} more; see storm validate {file})" if len(errors) > 1 else ""
        )
        fail(f"{file}: {first.message}{more}")
    plan = expand(data)
    store = opened[0] if opened else open_store(root, db)
    at = time.time()
    workflow_id = store.submit(
        plan.nodes,
        plan.edges,
        name=plan.name,
        metadata=plan.metadata,
        actor=getpass.getuser(),
        at=at,
        expires_at=None if plan.ttl is None else at + plan.ttl,
    )
    _drive(store, root, workflow_id, slots=slots, quiet=quiet)


@one_line_errors
def resume_command(
    workflow_id: Annotated[str, typer.Argument(help="Workflow id (printed by storm run).")],
    data_dir: DataDir = None,
    db: DbUrl = None,
    slots: Slots = None,
    quiet: Quiet = False,
) -> None:
    """Continue running a workflow (after the machine or the scheduler died)."""
    from stormflow.store import UnknownWorkflow

    root = default_data_dir(data_dir)
    if not db and not (root / "storm.db").exists():
        fail(f"no Storm data in {root}")
    store = open_store(root, db)
    try:
        store.workflow(workflow_id)
    except UnknownWorkflow:
        fail(f"no workflow {workflow_id!r} in {store_name(store, root)}")
    _drive(store, root, workflow_id, slots=slots, quiet=quiet)


def store_name(store: Store, root: Path) -> str:
    """The data directory, or the database URL (without its password) when it is not there."""
    from sqlalchemy.engine import make_url

    if store.url.startswith("sqlite:") and store.url.endswith(str(root / "storm.db")):
        return str(root)
    return make_url(store.url).render_as_string(hide_password=True)


def _drive(store: Store, root: Path, workflow_id: str, *, slots: int | None, quiet: bool) -> None:
    from rich.console import Console
    from rich.live import Live
    from rich.markup import escape

    from stormflow.cli import progress
    from stormflow.core import Status, WorkflowStatus
    from stormflow.engine.render import workflow_dir
    from stormflow.engine.scheduler import Scheduler, Settings

    console = Console(highlight=False, soft_wrap=True, emoji=False)  # paths stay whole when piped
    where = store_name(store, root)
    database = f", database: {escape(where)}" if where != str(root) else ""
    console.print(f"workflow [bold]{workflow_id}[/] (data: {escape(str(root))}{database})")
    # A server or scheduler owning this data directory runs it: we only follow (see _follow).
    owner = _owner(store, root)
    scheduler = None
    if owner is None:
        scheduler = Scheduler(store, Settings(data_dir=root, workflows={workflow_id}), slots=slots)
    else:
        console.print(f"run by {owner.describe()}, which serves {root}")
    started = time.time()
    interrupted = False
    stopped = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal interrupted
        interrupted = True
        stopped.set()
        if scheduler is not None:
            scheduler.stop()

    def loop(tick: Callable[[], None] | None) -> None:
        if scheduler is not None:
            _loop(scheduler, workflow_id, tick)
        else:
            _follow(store, root, workflow_id, stopped, tick)

    old = signal.signal(signal.SIGTERM, on_signal)
    old_int = signal.signal(signal.SIGINT, on_signal)
    try:
        if quiet or not console.is_terminal:
            loop(None)
        else:
            with Live(console=console, refresh_per_second=4, transient=False) as live:
                last = 0.0

                def tick() -> None:
                    nonlocal last
                    now = time.time()
                    if now - last >= 0.25:
                        last = now
                        live.update(progress.render(progress.read(store, workflow_id, started)))

                loop(tick)
                live.update(progress.render(progress.read(store, workflow_id, started)))
    finally:
        if scheduler is not None:
            scheduler.close(grace=5.0)
        signal.signal(signal.SIGTERM, old)
        signal.signal(signal.SIGINT, old_int)

    snap = progress.read(store, workflow_id, started)
    if quiet or not console.is_terminal:
        console.print(progress.render(snap, bar=False))
    if interrupted and scheduler is None:
        console.print(f"stopped following: {workflow_id} runs on in {owner_text(owner)}")
        raise typer.Exit(130)
    if interrupted:
        console.print(f"interrupted: continue with `storm resume {workflow_id}`")
        raise typer.Exit(130)
    if snap.status is WorkflowStatus.RUNNING:  # the owner stopped before the workflow ended
        console.print(f"[yellow]the owner stopped[/]: continue with `storm resume {workflow_id}`")
        raise typer.Exit(1)
    for name, path in progress.outputs(store, workflow_id, workflow_dir(root, workflow_id)):
        console.print(f"output of {name}: {path}")
    for line in progress.child_outputs(store, workflow_id, root):
        console.print(line, markup=False)
    for name, line in progress.notices(store, workflow_id):
        console.print(f"{name}: {line}", markup=False)
    for name, line in progress.uploads_done(store, workflow_id):
        console.print(f"{name}: {line}", markup=False)
    if snap.status is WorkflowStatus.SUCCEEDED:
        skipped = snap.counts.get(Status.SKIPPED, 0)
        note = f" ({skipped} skipped)" if skipped else ""
        console.print(f"[green]succeeded[/]{note} in {snap.elapsed:0.1f}s")
        return
    if snap.status is WorkflowStatus.HOLDING:
        console.print("[yellow]holding[/]: nodes wait on a hold; unhold them to continue")
    else:
        console.print(f"[red]{snap.status.value}[/]")
    raise typer.Exit(1)


def _owner(store: Store, root: Path) -> Holder | None:
    from stormflow.engine.ownership import holder

    return holder(root) if str(store.url).startswith("sqlite") else None


def owner_text(owner: Holder | None) -> str:
    return "the server" if owner is None else owner.describe()


def _follow(
    store: Store,
    root: Path,
    workflow_id: str,
    stopped: threading.Event,
    tick: Callable[[], None] | None,
) -> None:
    """Wait for the owner of the data directory to finish the workflow (or to stop: then the
    workflow waits for `storm resume`, which runs it here, or for the next owner)."""
    from stormflow.core import WorkflowStatus

    while not stopped.wait(0.1):
        if tick is not None:
            tick()
        if store.status(workflow_id) is not WorkflowStatus.RUNNING or _owner(store, root) is None:
            return


def _loop(scheduler: Scheduler, workflow_id: str, tick: object) -> None:
    from stormflow.core import WorkflowStatus

    def done() -> bool:
        return scheduler.store.status(workflow_id) is not WorkflowStatus.RUNNING

    scheduler.run_until(done, tick if callable(tick) else None)
