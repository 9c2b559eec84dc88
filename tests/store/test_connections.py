"""Pooled and kept connections: one cut while idle is replaced before use, unseen; kept write
connections are reused, survive a failed transaction and stay few."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from sqlalchemy import text

from stormflow import core
from stormflow.core import GraphView, Outcome, Status
from stormflow.store import Store
from stormflow.store import db as db_module

from .helpers import submit


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)  # SQLite has no server
def test_a_connection_cut_while_idle_is_replaced(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert store.dialect == "postgresql"
    wf = submit(store, ["a"])
    with store.engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = store.engine.url.set(drivername="postgresql", query={}).render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
    monkeypatch.setattr(db_module, "IDLE_PING", 0.0)  # idle "long enough" at once
    assert store.counts(wf)  # on a fresh connection: the dead one failed its ping
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_kept_write_connection_cut_while_idle_is_replaced(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Write connections stay checked out between writes: one cut meanwhile is pinged,
    found dead and replaced before the next write uses it."""
    wf = submit(store, ["a"])  # a write: its connection is kept
    assert len(store._writers) == 1
    kept, _ = store._writers[0]
    pid = kept.execute(text("SELECT pg_backend_pid()")).scalar_one()
    kept.rollback()
    admin = store.engine.url.set(drivername="postgresql", query={}).render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
    monkeypatch.setattr(db_module, "IDLE_PING", 0.0)
    store.transact(wf, lambda v: core.hold(v, ["a"], at=1.0))
    assert store.node(wf, "a").status is Status.HOLDING
    fresh, _ = store._writers[0]
    assert fresh.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    fresh.rollback()


def test_write_connections_are_reused_and_few(store: Store) -> None:
    """Sequential writes share one kept connection; a write that fails leaves it usable
    and commits nothing; concurrent writes keep at most KEPT_WRITERS afterwards."""
    wf = submit(store, [f"n{i}" for i in range(12)])
    with store.write() as first:
        pass
    with store.write() as second:
        assert second is first

    def boom(view: GraphView) -> Outcome:
        core.hold(view, ["n0"], at=1.0)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.transact(wf, boom)
    assert store.node(wf, "n0").status is Status.OPEN
    store.transact(wf, lambda v: core.hold(v, ["n1"], at=2.0))
    assert store.node(wf, "n1").status is Status.HOLDING

    def hold(i: int) -> None:
        store.transact(wf, lambda v: core.hold(v, [f"n{i}"], at=3.0))

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(hold, range(2, 12)))
    assert all(store.node(wf, f"n{i}").status is Status.HOLDING for i in range(2, 12))
    assert 1 <= len(store._writers) <= db_module.KEPT_WRITERS
