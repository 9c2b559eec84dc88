"""A big submit goes in as bounded transactions while the workflow is invisible; it appears
whole at the last commit, or not at all (issue 11, finding 4)."""

from __future__ import annotations

import threading
import time

import pytest

from stormflow.core import Status
from stormflow.store import Store, UnknownWorkflow
from stormflow.store import store as store_module
from stormflow.store.bulk import insert_rows
from tests.engine.helpers import submit, task

NODES = [task(f"n{i:03d}", "true") for i in range(60)]
EDGES = [(f"n{i:03d}", f"n{i + 1:03d}") for i in range(59)]


def test_a_batched_submit_stores_the_same_workflow(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "SUBMIT_BATCH", 7)
    wf = submit(store, NODES, EDGES)
    assert len(store.nodes(wf)) == 60
    assert sorted(store.edges(wf)) == sorted(EDGES)
    assert [e.seq for e in store.events(wf)] == [1]
    assert store.runnable_nodes(wf) == ["n000"]
    assert [w.id for w in store.workflows()] == [wf]
    assert store.node(wf, "n059").status is Status.OPEN


def test_it_is_invisible_until_complete_and_discarded_when_it_fails(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "SUBMIT_BATCH", 7)
    seen: list[object] = []
    calls = [0]

    def spying_insert(conn, table, columns, rows, **kw):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if calls[0] == 3:  # half way: what do readers (other threads) see?

            def look() -> None:
                seen.append([w.id for w in store.workflows()])
                seen.append([w.id for w in store.workflows(archived=True)])
                seen.append(store.workflows_with_work())

            reader = threading.Thread(target=look)
            reader.start()
            reader.join(10)
        if calls[0] == 5:
            raise RuntimeError("disk full")
        return insert_rows(conn, table, columns, rows, **kw)

    monkeypatch.setattr(store_module, "insert_rows", spying_insert)
    with pytest.raises(RuntimeError, match="disk full"):
        submit(store, NODES, EDGES)
    assert seen == [[], [], []]  # nothing visible half way
    assert store.workflows() == [] and store.workflows(archived=True) == []
    with store.read() as conn:  # and nothing left behind
        assert conn.exec_driver_sql("SELECT count(*) FROM nodes").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM workflows").scalar() == 0


def test_other_writers_get_the_store_between_batches(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a big submit is written, a hold on another workflow commits before it ends."""
    other = submit(store, [task("a", "true")])
    monkeypatch.setattr(store_module, "SUBMIT_BATCH", 5)
    real = store_module.insert_rows
    started = threading.Event()

    def slow_insert(conn, table, columns, rows, **kw):  # type: ignore[no-untyped-def]
        started.set()
        time.sleep(0.05)  # a slow batch
        return real(conn, table, columns, rows, **kw)

    monkeypatch.setattr(store_module, "insert_rows", slow_insert)
    done: list[float] = []
    thread = threading.Thread(target=lambda: done.append(bool(submit(store, NODES, EDGES))))
    thread.start()
    started.wait(10)
    from stormflow import core

    store.transact(other, lambda v: core.hold(v, ["a"], at=time.time()))
    held_while_submitting = thread.is_alive()
    thread.join(30)
    assert done == [True]
    assert held_while_submitting  # the hold did not wait for the whole submit
    assert store.node(other, "a").status is Status.HOLDING
    with pytest.raises(UnknownWorkflow):
        store.workflow("zzzzzzzz")


def test_an_abandoned_submit_is_discarded_once_old(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A submitter killed half way leaves an invisible partial workflow; it goes once old."""
    monkeypatch.setattr(store_module, "SUBMIT_BATCH", 7)
    real = store_module.insert_rows
    calls = [0]

    def dying(conn, table, columns, rows, **kw):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if calls[0] == 4:
            raise KeyboardInterrupt  # not even the cleanup runs: as after kill -9
        return real(conn, table, columns, rows, **kw)

    monkeypatch.setattr(store_module, "insert_rows", dying)
    monkeypatch.setattr(store, "discard_unfinished", lambda *a, **k: 0)  # killed: no cleanup
    with pytest.raises(KeyboardInterrupt):
        submit(store, NODES, EDGES)
    monkeypatch.undo()
    with store.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM nodes").scalar() == 21
    assert store.discard_unfinished(older_than=3600) == 0  # too recent: maybe still running
    assert store.discard_unfinished(older_than=0.001) == 1
    with store.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM nodes").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM workflows").scalar() == 0
