"""`storm worker`: a Celery worker running Storm attempts from the given queues.

Start one on every machine that can reach the broker and Redis. `--queues` names the
instance types this machine serves (a node's `instance_type` is its queue; nodes without one
go to `default`). The default pool is threads: a task only supervises its command (which runs in
its own process group), so threads cost nothing and a SIGKILL of the worker leaves no pool
children behind. SIGTERM: Celery's warm shutdown, running attempts finish first.
"""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer

from stormflow.cli.common import fail, one_line_errors
from stormflow.cli.run import DataDir
from stormflow.paths import data_dir as default_data_dir

Broker = Annotated[
    str,
    typer.Option(
        "--broker", envvar="STORM_BROKER", help="Celery broker: redis://... or amqp://..."
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


def register(app: typer.Typer) -> None:
    app.command("worker")(worker_command)


@one_line_errors
def worker_command(
    broker: Broker = "redis://127.0.0.1:6379/0",
    redis_url: RedisUrl = None,
    queues: Annotated[
        str, typer.Option("--queues", "-Q", help="Comma-separated queues (instance types).")
    ] = "default",
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", min=1, help="Attempts at once (CPUs).")
    ] = None,
    pool: Annotated[
        str, typer.Option("--pool", "-P", help="Celery pool: threads, prefork or solo.")
    ] = "threads",
    name: Annotated[
        str | None, typer.Option("--name", help="Celery node name (default storm-PID@host).")
    ] = None,
    data_dir: DataDir = None,
    loglevel: Annotated[str, typer.Option("--loglevel")] = "INFO",
) -> None:
    """Run attempts sent by Celery-executor schedulers until SIGTERM."""
    from stormflow.engine.celery import worker
    from stormflow.engine.celery.app import make_app, redis_url_for

    try:
        redis_target = redis_url_for(broker, redis_url)
    except ValueError as exc:
        fail(str(exc))
    root = default_data_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    slots = concurrency or os.cpu_count() or 1
    runtime = worker.configure(root, redis_target, capacity=slots)
    app = make_app(broker)
    worker.register(app)
    node = name or f"storm-{os.getpid()}@{socket.gethostname()}"
    typer.echo(f"storm worker {runtime.name} ({node}) queues {queues}", err=True)
    argv = ["worker", "--queues", queues, "--pool", pool, "--hostname", node]
    argv += ["--concurrency", str(slots), "--loglevel", loglevel]
    # Storm keeps its own heartbeats in Redis: Celery's cluster chatter only slows start-up.
    argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    app.worker_main(argv=argv)
