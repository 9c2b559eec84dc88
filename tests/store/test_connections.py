"""Pooled PostgreSQL connections: one cut while idle is replaced before use, unseen."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

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
