"""A busy store answers 503 with Retry-After and a JSON body, never a 500 or a hang: a row
lock held past PostgreSQL's lock_timeout, SQLite's write lock past its busy timeout, a pool
with no free connection (issue 11, findings 4 and 6)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlalchemy.exc import TimeoutError as PoolTimeout

from stormflow.store import Store
from tests.api.helpers import API, act, client, submit

HOLD = {"action": "hold", "selection": {"names": ["simulate"]}}


@pytest.fixture
def impatient(
    store_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Store, TestClient]]:
    """A store that waits half a second for a lock or a pool connection."""
    monkeypatch.setenv("STORM_LOCK_TIMEOUT", "0.5")
    monkeypatch.setenv("STORM_POOL_TIMEOUT", "0.5")
    opened = Store(store_url)
    try:
        with client(opened, data_dir) as api:
            yield opened, api
    finally:
        opened.close()


def assert_busy(answer: object, began: float) -> None:
    assert answer.status_code == 503, answer.text  # type: ignore[attr-defined]
    assert answer.headers["Retry-After"] == "1"  # type: ignore[attr-defined]
    assert answer.json()["error"]["code"] == "busy"  # type: ignore[attr-defined]
    assert time.monotonic() - began < 20  # answered, not hung


def test_a_lock_held_elsewhere_is_503_then_the_action_goes_through(
    impatient: tuple[Store, TestClient], store_url: str
) -> None:
    _store, api = impatient
    wf = submit(api)
    url = make_url(store_url)
    if url.get_backend_name() == "sqlite":
        other = sqlite3.connect(url.database or "", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the write lock, as a long writer holds it
        release = other.rollback
    else:
        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        other = psycopg.connect(plain)  # type: ignore[assignment]
        other.execute("SELECT 1 FROM workflows WHERE id = %s FOR UPDATE", (wf,))
        release = other.rollback
    try:
        began = time.monotonic()
        assert_busy(act(api, wf, HOLD), began)
    finally:
        release()
        other.close()
    answer = act(api, wf, HOLD)
    assert answer.status_code == 200, answer.text
    events = api.get(f"{API}/workflows/{wf}/events").json()["items"]
    assert [e["type"] for e in events].count("hold") == 1  # the refused one left nothing


def test_an_exhausted_pool_is_503(impatient: tuple[Store, TestClient]) -> None:
    store, api = impatient
    wf = submit(api)
    taken = []
    try:
        while True:  # every connection the pool will give (the store keeps a few itself)
            try:
                taken.append(store.engine.connect())
            except PoolTimeout:
                break
        began = time.monotonic()
        assert_busy(api.get(f"{API}/workflows/{wf}"), began)
        # (an action may still go through: the store keeps a few write connections)
    finally:
        for conn in taken:
            conn.close()
    assert api.get(f"{API}/workflows/{wf}").status_code == 200
