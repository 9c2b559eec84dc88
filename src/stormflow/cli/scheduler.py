"""`storm scheduler`: run the engine for every workflow in a store until stopped.

Several schedulers may share one PostgreSQL database: leases divide the work and
an attempt is never claimed twice. SIGTERM or Ctrl-C shuts down gracefully: running
processes are stopped and their attempts handed back at once, so nothing is lost.
"""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from stormflow.cli.common import fail, log_to_stderr, one_line_errors
from stormflow.cli.run import DataDir, DbUrl, Slots
from stormflow.cli.run import open_store as open_db
from stormflow.paths import data_dir as default_data_dir

if TYPE_CHECKING:  # imported where used: every `storm` call loads this module
    from stormflow.engine.scheduler import Scheduler, Settings
    from stormflow.store import Store

ExecutorName = Annotated[
    str,
    typer.Option(
        "--executor",
        envvar="STORM_EXECUTOR",
        help="local: run here; celery: send to `storm worker`s (docs/deploy.md).",
    ),
]
Broker = Annotated[
    str | None,
    typer.Option(
        "--broker",
        envvar="STORM_BROKER",
        help="Celery broker (default redis://127.0.0.1:6379/0; amqp://... for RabbitMQ).",
    ),
]
RedisUrl = Annotated[
    str | None,
    typer.Option(
        "--redis",
        envvar="STORM_REDIS",
        help="Redis for results, heartbeats and logs (default: the broker, when it is Redis).",
    ),
]
HeartbeatTtl = Annotated[
    float,
    typer.Option(
        "--heartbeat-ttl",
        min=0.3,
        help="Celery: a worker silent this long is lost (at most half the lease).",
    ),
]


#: The scheduler's SQLite page caches, all connections together (a soft limit).
SQLITE_MEMORY = 4 << 20


def register(app: typer.Typer) -> None:
    app.command("scheduler")(scheduler_command)


def open_store(root_option: str | None, db: str | None) -> tuple[Store, Settings]:
    from stormflow.engine.scheduler import Settings

    root = default_data_dir(root_option)
    return open_db(root, db), Settings(data_dir=root)


@one_line_errors
def scheduler_command(
    data_dir: DataDir = None,
    db: DbUrl = None,
    slots: Slots = None,
    lease_seconds: Annotated[
        float, typer.Option("--lease-seconds", min=1.0, help="Lease of a running attempt.")
    ] = 30.0,
    executor: ExecutorName = "local",
    broker: Broker = None,
    redis_url: RedisUrl = None,
    heartbeat_ttl: HeartbeatTtl = 10.0,
    supervised: Annotated[
        bool,
        typer.Option(
            "--supervised",
            hidden=True,
            help="Run as `storm server`'s child: hand-overs on stdin, figures on stdout.",
        ),
    ] = False,
) -> None:
    """Run ready nodes of every workflow until stopped (SIGTERM/Ctrl-C: graceful)."""
    from stormflow.cli.server import lock_embedded_store
    from stormflow.engine.executors import make_scheduler

    log_to_stderr()
    store, settings = open_store(data_dir, db)
    # `storm server`'s child runs under the lock its server holds (and dies with it)
    owner = None if supervised else lock_embedded_store(store, settings.data_dir, "scheduler", None)
    store.limit_memory(SQLITE_MEMORY)  # see Database.limit_memory
    settings.lease_seconds = lease_seconds
    settings.heartbeat_every = max(0.5, lease_seconds / 4)
    try:
        scheduler = make_scheduler(
            store,
            settings,
            executor=executor,
            slots=slots,
            broker=broker,
            redis_url=redis_url,
            heartbeat_ttl=heartbeat_ttl,
        )
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"scheduler {scheduler.owner} on {store.url.split('@')[-1]}", err=True)

    keep_running = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal keep_running
        keep_running = signum == signal.SIGUSR1  # leave the commands running (an upgrade)
        scheduler.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGUSR1, on_signal)
    try:
        if supervised:
            _serve_supervised(scheduler)
        else:
            scheduler.serve_forever()
    finally:
        if keep_running:
            scheduler.detach(grace=5.0)
        else:
            scheduler.close(grace=5.0)
        if owner is not None:
            owner.release()


def _serve_supervised(scheduler: Scheduler) -> None:
    """The loop of `storm server`'s child: the server's hand-overs arrive on stdin, the figures
    leave on stdout. The end of stdin without a SIGTERM first means the server died (kill -9,
    a crash): the child then exits as abruptly, leaving its commands running under the
    supervisor or their workers, so that the restarted server's child adopts them instead of
    running them again (a graceful stop comes as SIGTERM)."""
    import sys

    from stormflow.engine.handover import Inbox, Reporter

    def orphaned() -> None:
        logging.getLogger(__name__).warning("the server is gone: leaving the commands running")
        logging.shutdown()
        os._exit(0)

    inbox = Inbox(scheduler, sys.stdin, on_eof=orphaned)
    reporter = Reporter(scheduler, sys.stdout)
    inbox.start()

    def tick() -> None:
        inbox.drain()
        reporter.tick()

    scheduler.run_until(lambda: False, on_tick=tick)
