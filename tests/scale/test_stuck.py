"""Finding 1 of issue 19: a statement that hangs is cancelled by the scheduler's statement
timeout and retried; a loop that stops turning shows in /health; shutdown ends anyway."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from stormflow.api.embedded import EmbeddedScheduler
from stormflow.core import WorkflowStatus
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.store import Store
from tests.api.helpers import API, client, free_port
from tests.conftest import PG_DB, PG_HOST, _pg_or_skip
from tests.engine.helpers import finished, submit, task, wait_until

STORM = [sys.executable, "-m", "stormflow.cli.main"]


@pytest.fixture
def pg_url() -> Iterator[str]:
    role = _pg_or_skip()
    schema = f"storm_stuck_{uuid.uuid4().hex[:12]}"
    admin = f"postgresql://{role}@{PG_HOST}/{PG_DB}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"postgresql+psycopg://{role}@{PG_HOST}/{PG_DB}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _lock_table(url: str, table: str) -> psycopg.Connection:
    """A connection holding `table` exclusively (until it rolls back): every statement that
    reads it waits."""
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    conn = psycopg.connect(plain)
    conn.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
    return conn


@pytest.mark.postgres
def test_a_timed_out_statement_is_logged_and_retried(pg_url: str, tmp_path: Path) -> None:
    store = Store(pg_url)
    wf = submit(store, [task("a", "true"), task("b", "true")], [("a", "b")])
    settings = Settings(data_dir=tmp_path, statement_timeout=1.0)
    embedded = EmbeddedScheduler(Scheduler(store, settings, slots=2))
    blocker = _lock_table(store.url, "workflows")
    embedded.start()
    try:
        wait_until(lambda: embedded.scheduler.timeouts >= 2, timeout=20, what="timeouts")
        assert embedded.alive and not embedded.stuck
    finally:
        blocker.rollback()
        blocker.close()
    try:
        wait_until(finished(store, wf), timeout=20, what="the workflow to finish")
        assert store.status(wf) is WorkflowStatus.SUCCEEDED
        assert embedded.alive
    finally:
        embedded.stop(grace=1.0)
        store.close()


def test_health_reports_a_stuck_loop_and_stop_ends_anyway(store: Store, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, stuck_after=0.3)
    scheduler = Scheduler(store, settings, slots=1)
    release = threading.Event()
    entered = threading.Event()

    def never_ends(_now: float) -> bool:  # a statement that never returns, holding the loop
        entered.set()
        release.wait(60)
        return False

    scheduler._housekeeping = never_ends  # type: ignore[method-assign]
    embedded = EmbeddedScheduler(scheduler)
    with client(store, tmp_path, scheduler=embedded) as http:
        embedded.start()
        try:
            assert entered.wait(10)
            time.sleep(0.5)
            health = http.get(f"{API}/health").json()
            assert health["scheduler"] is False and health["scheduler_stuck"] is True
            began = time.monotonic()
            embedded.stop(grace=0.5)
            assert time.monotonic() - began < 10  # returns at all: the lock was not waited for
        finally:
            release.set()


@pytest.mark.postgres
@pytest.mark.slow
def test_sigterm_ends_a_server_whose_scheduler_is_stuck(pg_url: str, tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    Store(pg_url).close()  # migrated before the table is locked
    proc = subprocess.Popen(
        [*STORM, "server", "--port", str(port), "--data-dir", str(home), "--db", pg_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    blocker = None
    try:
        wait_until((home / "server.json").exists, timeout=30, what="server.json")
        url = f"http://127.0.0.1:{port}"
        assert json.loads((home / "server.json").read_text())["pid"] == proc.pid
        blocker = _lock_table(pg_url, "workflows")  # the loop's next rescan waits on it
        time.sleep(1.5)
        with httpx.Client(base_url=url, timeout=10) as bare:
            assert bare.get(f"{API}/health").status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=25) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if blocker is not None:
            blocker.rollback()
            blocker.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
