"""Busy, not broken: the errors of a store that did not answer in time are recognised as
such (503 in the API, a retry in the scheduler); others are not."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy

from stormflow.store import Store
from stormflow.store.busy import is_busy


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)  # statement_timeout is PG's
def test_a_statement_past_statement_timeout_is_busy(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store(store_url).close()  # migrated first: under load a migration may outlast 0.3 s
    monkeypatch.setenv("STORM_STATEMENT_TIMEOUT", "0.3")
    store = Store(store_url)
    try:
        with pytest.raises(sqlalchemy.exc.DBAPIError) as caught, store.write() as conn:
            conn.exec_driver_sql("SELECT pg_sleep(5)")
        assert is_busy(caught.value)
    finally:
        store.close()


def test_what_is_busy_and_what_is_not() -> None:
    locked = sqlalchemy.exc.OperationalError(
        "BEGIN", {}, sqlite3.OperationalError("database is locked")
    )
    assert is_busy(locked)
    assert is_busy(sqlalchemy.exc.TimeoutError("QueuePool limit reached"))
    assert not is_busy(
        sqlalchemy.exc.OperationalError("x", {}, sqlite3.OperationalError("no such table"))
    )
    assert not is_busy(TypeError("'int' object is not iterable"))
    try:  # a busy error as the cause of another one is still busy
        try:
            raise locked
        except Exception as exc:
            raise RuntimeError("while applying a result") from exc
    except RuntimeError as wrapped:
        assert is_busy(wrapped)
