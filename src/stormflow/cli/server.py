"""`storm server`: the HTTP API (docs/api.md) with its scheduler in a supervised child process.

The token is created on first start in `<data dir>/token` (0600). Binding to an
address other than loopback never creates one: the token must already exist (from
an earlier local start, or `--token-file`), so a server is never reachable from
the network with a secret nobody has seen. SIGTERM/Ctrl-C: uvicorn stops, then the
scheduler child stops and hands its attempts back, then `server.json` is removed.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from stormflow.cli.common import fail, log_to_stderr, one_line_errors
from stormflow.cli.run import DataDir, DbUrl, Slots
from stormflow.cli.scheduler import Broker, ExecutorName, RedisUrl, open_store
from stormflow.paths import write_private


def register(app: typer.Typer) -> None:
    app.command("server")(server_command)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def local_url(host: str, port: int) -> str:
    """How clients on this machine reach the server (a wildcard bind is reached on loopback)."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def load_token(root: Path, host: str, token_file: str | None) -> str:
    from stormflow.api.auth import ensure_token, read_token

    if token_file is not None:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            fail(f"cannot read --token-file {token_file}: {exc.strerror or exc}")
        if len(token) < 16:
            fail(f"--token-file {token_file}: the token must be at least 16 characters")
        return token
    if is_loopback(host):
        return ensure_token(root)
    existing = read_token(root)
    if existing is None:
        fail(
            f"binding to {host} without a token is refused: start once on 127.0.0.1 "
            f"(creates {root / 'token'}) or pass --token-file"
        )
    return existing


def _announcing_server(config: Any, on_started: Any, on_leave: Any) -> Any:
    """A uvicorn server that announces itself once the socket is listening (not before:
    clients would be refused), and that SIGUSR1 stops like SIGTERM after `on_leave()`.
    Defined here: uvicorn loads only when a server starts."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                on_started()

                def leave(_signum: int, _frame: FrameType | None) -> None:
                    on_leave()
                    self.should_exit = True

                signal.signal(signal.SIGUSR1, leave)

    return Server(config)


def scheduler_child(
    root: Path,
    db: str | None,
    slots: int | None,
    executor: str,
    broker: str | None,
    redis_url: str | None,
) -> tuple[list[str], dict[str, str]]:
    """The command line of the scheduler child; the database URL goes in its environment
    (a password in it would show in `ps`)."""
    argv = [sys.executable, "-m", "stormflow.cli.main", "scheduler", "--supervised"]
    argv += ["--data-dir", str(root), "--executor", executor]
    if slots is not None:
        argv += ["--slots", str(slots)]
    env = dict(os.environ)
    for name, value in (("STORM_DB", db), ("STORM_BROKER", broker), ("STORM_REDIS", redis_url)):
        env.pop(name, None)
        if value is not None:
            env[name] = value
    return argv, env


@one_line_errors
def server_command(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8765,
    data_dir: DataDir = None,
    db: DbUrl = None,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="API only (a replica beside schedulers).")
    ] = False,
    slots: Slots = None,
    token_file: Annotated[
        str | None, typer.Option("--token-file", help="Use this token instead of <data dir>/token.")
    ] = None,
    executor: ExecutorName = "local",
    broker: Broker = None,
    redis_url: RedisUrl = None,
    max_nodes: Annotated[
        int | None,
        typer.Option(
            "--max-nodes", min=1, help="Nodes per workflow (default 200000; STORM_MAX_NODES)."
        ),
    ] = None,
    max_edges: Annotated[
        int | None,
        typer.Option(
            "--max-edges", min=1, help="Edges per workflow (default 1000000; STORM_MAX_EDGES)."
        ),
    ] = None,
    max_depth: Annotated[
        int | None,
        typer.Option("--max-depth", min=1, help="Nesting in a document (32; STORM_MAX_DEPTH)."),
    ] = None,
    max_string: Annotated[
        int | None,
        typer.Option(
            "--max-string", min=1, help="Characters per string (100000; STORM_MAX_STRING)."
        ),
    ] = None,
    max_workflow_depth: Annotated[
        int | None,
        typer.Option(
            "--max-workflow-depth",
            min=1,
            help="Sub-workflows nested in sub-workflows (8; STORM_MAX_WORKFLOW_DEPTH).",
        ),
    ] = None,
    prune_after: Annotated[
        str | None,
        typer.Option(
            "--prune-after",
            envvar="STORM_PRUNE_AFTER",
            help="Remove workflows archived longer ago than this (90d), checked hourly.",
        ),
    ] = None,
) -> None:
    """Serve the HTTP API (and run workflows) until SIGTERM/Ctrl-C."""
    from stormflow.api.app import create_app
    from stormflow.api.scheduler_process import SchedulerProcess
    from stormflow.engine.executors import EXECUTORS
    from stormflow.engine.retention import Pruner, parse_duration
    from stormflow.spec import limits

    log_to_stderr()
    limits.configure(
        max_nodes=max_nodes,
        max_edges=max_edges,
        max_depth=max_depth,
        max_string=max_string,
        max_workflow_depth=max_workflow_depth,
    )
    try:
        retention = parse_duration(prune_after) if prune_after is not None else None
    except ValueError as exc:
        fail(f"--prune-after: {exc}")
    store, settings = open_store(data_dir, db)
    root = settings.data_dir
    url = local_url(host, port)
    owner = lock_embedded_store(store, root, "server", url)
    token = load_token(root, host, token_file)
    listening = listen(host, port)  # before any scheduler starts: a busy port changes nothing
    if not is_loopback(host):
        typer.echo(
            f"storm: warning: serving on {host}: anyone who can reach it and has the token "
            "controls every workflow; the connection is not encrypted (use a TLS proxy)",
            err=True,
        )
    child = None
    if not no_scheduler:
        if executor not in EXECUTORS:
            fail(f"unknown executor {executor!r} (choose from {', '.join(EXECUTORS)})")
        argv, env = scheduler_child(root, db, slots, executor, broker, redis_url)
        child = SchedulerProcess(argv, env)
    app = create_app(store, data_dir=root, token=token, scheduler=child)
    url = local_url(host, port)
    info = root / "server.json"

    def on_started() -> None:
        write_private(info, (json.dumps({"url": url, "pid": os.getpid()}) + "\n").encode())
        typer.echo(f"Storm server: {url}/?token={token}")

    def after_shutdown(_signum: int, _frame: FrameType | None) -> None:
        pass  # uvicorn re-raises the signal it stopped on; we still have to clean up

    signal.signal(signal.SIGTERM, after_shutdown)
    signal.signal(signal.SIGINT, after_shutdown)
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=logging.WARNING,
        lifespan="off",
        timeout_graceful_shutdown=3,  # event streams never end on their own
    )
    pruner = Pruner(store, root, retention) if retention is not None else None
    if child is not None:
        child.start()
    if pruner is not None:
        pruner.start()
    leaving: list[bool] = []  # SIGUSR1: stop, leaving the commands running (an upgrade)
    try:
        _announcing_server(config, on_started, lambda: leaving.append(True)).run(
            sockets=[listening]
        )
    finally:
        if pruner is not None:
            pruner.stop()
        if child is not None:
            child.stop(keep_running=bool(leaving))
        _remove_if_ours(info)
        store.close()
        if owner is not None:
            owner.release()


def lock_embedded_store(store: Any, root: Path, kind: str, url: str | None) -> Any:
    """Take the data directory's owner lock when the store is its SQLite file (PostgreSQL is
    shared by many schedulers); a second owner is refused with one line naming the first."""
    from stormflow.engine.ownership import DataDirBusy, OwnerLock

    if not str(store.url).startswith("sqlite"):
        return None
    lock = OwnerLock(root)
    try:
        lock.acquire(kind, url)
    except DataDirBusy as exc:
        store.close()
        fail(str(exc))
    except OSError as exc:
        store.close()
        fail(f"cannot lock {lock.path}: {exc.strerror or exc}")
    return lock


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a busy port is one clear line (exit 2)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        fail(f"cannot listen on {host}:{port}: {why.lower()}")
    sock.set_inheritable(False)
    return sock


def _remove_if_ours(info: Path) -> None:
    """server.json is removed only by the server it names (never another one's)."""
    try:
        pid = json.loads(info.read_text(encoding="utf-8")).get("pid")
    except (OSError, ValueError, AttributeError):
        return
    if pid == os.getpid():
        info.unlink(missing_ok=True)
