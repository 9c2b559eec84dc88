"""Findings 2 and 3 of issue 19: idle, held, failed and finished workflows cost the
scheduler nothing per rescan, and the workflow list reads summaries kept on the rows (one
statement per page, whatever the filter), paged by keyset cursor, with an ETag."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from stormflow import core
from stormflow.core import Status, WorkflowStatus
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.store import Store
from tests.api.helpers import API, client
from tests.engine.helpers import finished, submit, task, wait_until

IDLE = 12  # of each kind: held, failed with open nodes downstream, finished


def _idle_workflows(store: Store) -> dict[str, list[str]]:
    """Workflows that need nothing: a held root, a failure with open nodes behind it, done."""
    made: dict[str, list[str]] = {"held": [], "failed": [], "finished": []}
    for i in range(IDLE):
        held = submit(store, [task("a", "true"), task("b", "true")], [("a", "b")], name=f"h{i}")
        store.transact(held, lambda v: core.hold(v, ["a"], at=1.0))
        made["held"].append(held)
        failed = submit(store, [task("a", "true"), task("b", "true")], [("a", "b")], name=f"f{i}")
        store.transact(failed, lambda v: core.run_ready(v, ["a"], at=1.0))
        store.transact(failed, lambda v: core.fail(v, "a", "a#1", at=2.0, error="boom"))
        made["failed"].append(failed)
        done = submit(store, [task("a", "true")], name=f"d{i}")
        store.transact(done, lambda v: core.run_ready(v, ["a"], at=1.0))
        store.transact(done, lambda v: core.succeed(v, "a", "a#1", at=2.0))
        made["finished"].append(done)
    return made


def test_idle_workflows_cost_nothing_per_rescan(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _idle_workflows(store)
    for wf in made["held"]:
        assert store.status(wf) is WorkflowStatus.HOLDING
    for wf in made["failed"]:
        assert store.status(wf) is WorkflowStatus.FAILED
        assert store.node(wf, "b").status is Status.OPEN
    assert store.workflows_with_work() == []

    reads: list[str] = []
    for name in ("adjacency", "runnable_nodes", "nodes", "counts", "status"):
        plain = getattr(store, name)

        def counted(*args: Any, _plain: Any = plain, _name: str = name, **kw: Any) -> Any:
            reads.append(_name)
            return _plain(*args, **kw)

        monkeypatch.setattr(store, name, counted)
    scheduler = Scheduler(store, Settings(data_dir=tmp_path), slots=2)
    try:
        assert reads == []  # constructing it rescanned: nothing read per idle workflow
        scheduler.rescan()
        assert reads == []
        active = submit(store, [task("x", "true"), task("y", "true")], [("x", "y")], name="new")
        scheduler.rescan()
        assert sorted(reads) == ["adjacency", "runnable_nodes"]  # the new one only, once
        reads.clear()
        scheduler.rescan()
        assert reads == []  # nothing changed since it looked
        scheduler.run_until(finished(store, active))
        assert store.status(active) is WorkflowStatus.SUCCEEDED
    finally:
        scheduler.close()


def _statements(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement the store runs: through SQLAlchemy, or as driver SQL."""
    from stormflow.store.driver import Driver

    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    sqlalchemy.event.listen(store.engine, "before_cursor_execute", record)
    plain = Driver.send

    def send(self: Driver, text: str, params: Any = ()) -> Any:
        seen.append(text)
        return plain(self, text, params)

    monkeypatch.setattr(Driver, "send", send)
    return seen


def test_the_list_reads_one_statement_per_page_whatever_the_filter(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _idle_workflows(store)
    with client(store, tmp_path) as api:
        seen = _statements(store, monkeypatch)
        for params in ({}, {"status": "failed"}, {"status": "holding", "name": "h*"}):
            seen.clear()
            page = api.get(f"{API}/workflows", params={**params, "limit": 1000}).json()
            assert len([s for s in seen if "workflows" in s]) == 1, seen
            assert len(seen) <= 2, seen  # and at most the isolation level besides
            if params.get("status") == "failed":
                assert {w["id"] for w in page["items"]} == set(made["failed"])
                (one,) = [w for w in page["items"] if w["id"] == made["failed"][0]]
                assert one["counts"]["failed"] == 1 and one["counts"]["open"] == 1
                assert one["total"] == 2
        everything = api.get(f"{API}/workflows", params={"limit": 1000}).json()["items"]
        assert len(everything) == 3 * IDLE


def test_keyset_pages_cover_the_list_once_in_order(store: Store, tmp_path: Path) -> None:
    ids = [
        store.submit([], [], name=f"w{i}", metadata={}, actor="t", at=100.0 + i // 3)
        for i in range(10)  # three per created_at: ties are ordered by id
    ]
    with client(store, tmp_path) as api:
        whole = [
            w["id"] for w in api.get(f"{API}/workflows", params={"limit": 100}).json()["items"]
        ]
        assert sorted(whole) == sorted(ids)
        paged: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
            page = api.get(f"{API}/workflows", params=params).json()
            paged += [w["id"] for w in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert paged == whole
        # a workflow submitted meanwhile (newest) does not shift the pages after the first
        first = api.get(f"{API}/workflows", params={"limit": 4}).json()
        store.submit([], [], name="late", metadata={}, actor="t", at=time.time())
        rest = api.get(f"{API}/workflows", params={"limit": 100, "cursor": first["next_cursor"]})
        assert [w["id"] for w in rest.json()["items"]] == whole[4:]


@pytest.mark.parametrize("cursor", ["xyz", "", "W10", "WyJhIiwiYiJd", "WzEsMl0", "!!", "e30"])
def test_a_bad_cursor_is_a_clear_422(store: Store, tmp_path: Path, cursor: str) -> None:
    with client(store, tmp_path) as api:
        answer = api.get(f"{API}/workflows", params={"cursor": cursor})
        assert answer.status_code == 422
        error = answer.json()["error"]
        assert error["code"] in ("invalid-cursor", "invalid-request"), error
        assert "cursor" in str(error)


def test_the_list_answers_304_while_nothing_changed(store: Store, tmp_path: Path) -> None:
    wf = submit(store, [task("a", "true")], name="one")
    with client(store, tmp_path) as api:
        first = api.get(f"{API}/workflows")
        tag = first.headers["etag"]
        again = api.get(f"{API}/workflows", headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b""
        store.transact(wf, lambda v: core.hold(v, ["a"], at=1.0))
        changed = api.get(f"{API}/workflows", headers={"If-None-Match": tag})
        assert changed.status_code == 200 and changed.headers["etag"] != tag
        assert changed.json()["items"][0]["status"] == "holding"


def test_summaries_survive_concurrent_transactions(store: Store, tmp_path: Path) -> None:
    """More writers than the pool holds, on one workflow and on many: every summary equals
    the count of its nodes afterwards."""
    import threading

    wfs = [submit(store, [task(f"n{j}", "true") for j in range(6)], name=f"c{i}") for i in range(4)]
    errors: list[BaseException] = []

    def work(wf: str, names: list[str]) -> None:
        try:
            for name in names:
                store.transact(wf, lambda v, n=name: core.run_ready(v, [n], at=1.0))
                store.transact(wf, lambda v, n=name: core.succeed(v, n, f"{n}#1", at=2.0))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(wf, [f"n{j}"]))
        for wf in wfs
        for j in range(6)  # 24 writers: more than the pool's 15 connections
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with client(store, tmp_path) as api:
        for w in api.get(f"{API}/workflows").json()["items"]:
            assert w["status"] == "succeeded" and w["counts"]["succeeded"] == 6
    for wf in wfs:
        nodes = store.nodes(wf)
        assert store.counts(wf) == {Status.SUCCEEDED: len(nodes)}


def test_a_scheduler_runs_a_new_workflow_among_idle_ones(store: Store, tmp_path: Path) -> None:
    _idle_workflows(store)
    wf = submit(store, [task("a", "true"), task("b", "true")], [("a", "b")], name="new")
    scheduler = Scheduler(store, Settings(data_dir=tmp_path), slots=2)
    try:
        scheduler.run_until(finished(store, wf))
    finally:
        scheduler.close()
    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    wait_until(lambda: store.workflows_with_work() == [], what="no work left")


def test_migration_0004_summarizes_existing_workflows(store_url: str) -> None:
    """A store of revision 0003 with workflows in every state gets their summaries."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from stormflow.store.migrate import alembic_config

    engine = create_engine(store_url)
    rows = {  # workflow -> [(node, status)], edges a -> b
        "held": [("a", "holding"), ("b", "open")],
        "ready": [("a", "succeeded"), ("b", "open")],
        "blocked": [("a", "failed"), ("b", "open")],
        "busy": [("a", "running"), ("b", "open")],
        "done": [("a", "succeeded"), ("b", "skipped")],
    }
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0003")
            for i, (wf, nodes) in enumerate(rows.items()):
                conn.execute(
                    text(
                        "INSERT INTO workflows (id, name, metadata, created_at, archived,"
                        " last_seq) VALUES (:id, :name, '{}', :at, false, 0)"
                    ),
                    {"id": wf, "name": wf, "at": float(i)},
                )
                for name, status in nodes:
                    conn.execute(
                        text(
                            "INSERT INTO nodes (workflow_id, name, kind, status, submitted, base,"
                            " patch, snapshot_count, attempt_seq) VALUES"
                            " (:w, :n, 'task', :s, 'open', '{}', '{}', 0, 0)"
                        ),
                        {"w": wf, "n": name, "s": status},
                    )
                conn.execute(text("INSERT INTO edges VALUES (:w, 'a', 'b')"), {"w": wf})
    finally:
        engine.dispose()
    store = Store(store_url)
    try:
        expected = {
            "held": "holding",
            "ready": "running",
            "blocked": "failed",
            "busy": "running",
            "done": "succeeded",
        }
        for wf, status in expected.items():
            assert store.status(wf).value == status, wf
            assert (
                store.counts(wf) == {Status(s): 1 for _, s in rows[wf]}
                if wf != "done"
                else {
                    Status.SUCCEEDED: 1,
                    Status.SKIPPED: 1,
                }
            )
        assert sorted(store.workflows_with_work()) == ["busy", "ready"]
    finally:
        store.close()


def test_the_python_client_pages_and_unarchives(store: Store, tmp_path: Path) -> None:
    from stormflow.api.app import create_app
    from stormflow.client import Client
    from tests.api.helpers import TOKEN, live_server

    ids = [
        store.submit([], [], name=f"w{i}", metadata={}, actor="t", at=float(i)) for i in range(7)
    ]
    app = create_app(store, data_dir=tmp_path, token=TOKEN)
    with live_server(app) as url:
        storm = Client(url, TOKEN)
        pages = list(storm.workflow_pages(limit=3))
        assert [len(p) for p in pages] == [3, 3, 1]
        assert [w["id"] for p in pages for w in p] == ids[::-1]
        assert storm.archive(ids[0])["archived"] is True
        assert storm.unarchive(ids[0])["archived"] is False
