"""`storm server`: the HTTP API (docs/api.md) with the scheduler in the same process.

The token is created on first start in `<data dir>/token` (0600). Binding to an
address other than loopback never creates one: the token must already exist (from
an earlier local start, or `--token-file`), so a server is never reachable from
the network with a secret nobody has seen. SIGTERM/Ctrl-C: uvicorn stops, then the
scheduler stops and hands its attempts back, then `server.json` is removed.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from stormflow.cli.common import fail, one_line_errors
from stormflow.cli.run import DataDir, Slots
from stormflow.cli.scheduler import Broker, DbUrl, ExecutorName, RedisUrl, open_store


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


def _announcing_server(config: Any, on_started: Any) -> Any:
    """A uvicorn server that announces itself once the socket is listening (not before:
    clients would be refused). Defined here: uvicorn loads only when a server starts."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                on_started()

    return Server(config)


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
    from stormflow.api.embedded import EmbeddedScheduler
    from stormflow.engine.executors import make_scheduler
    from stormflow.engine.retention import Pruner, parse_duration

    try:
        retention = parse_duration(prune_after) if prune_after is not None else None
    except ValueError as exc:
        fail(f"--prune-after: {exc}")
    store, settings = open_store(data_dir, db)
    root = settings.data_dir
    token = load_token(root, host, token_file)
    if not is_loopback(host):
        typer.echo(
            f"storm: warning: serving on {host}: anyone who can reach it and has the token "
            "controls every workflow; the connection is not encrypted (use a TLS proxy)",
            err=True,
        )
    embedded = None
    if not no_scheduler:
        try:
            scheduler = make_scheduler(
                store, settings, executor=executor, slots=slots, broker=broker, redis_url=redis_url
            )
        except ValueError as exc:
            fail(str(exc))
        embedded = EmbeddedScheduler(scheduler)
    app = create_app(store, data_dir=root, token=token, scheduler=embedded)
    url = local_url(host, port)
    info = root / "server.json"

    def on_started() -> None:
        info.write_text(json.dumps({"url": url, "pid": os.getpid()}) + "\n", encoding="utf-8")
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
    if embedded is not None:
        embedded.start()
    if pruner is not None:
        pruner.start()
    try:
        _announcing_server(config, on_started).run()
    finally:
        if pruner is not None:
            pruner.stop()
        if embedded is not None:
            embedded.stop(grace=5.0)
        info.unlink(missing_ok=True)
        store.close()
