"""Cheap reads: ETags on per-workflow reads (304 when nothing changed), answers cached by
the workflow's last event, node lists paged by stable cursors, and the client using them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from stormflow.api.app import create_app
from stormflow.api.validators import encode_cursor
from stormflow.client import Client
from stormflow.core import Status
from stormflow.store import Store
from tests.api.helpers import API, DOC, TOKEN, act, live_server, run_node, submit


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def test_an_unchanged_workflow_answers_304_for_one_indexed_read(
    api: TestClient, store: Store
) -> None:
    wf = submit(api)
    first = api.get(f"{API}/workflows/{wf}")
    tag = first.headers["etag"]
    assert first.status_code == 200 and tag.startswith('W/"') and first.json()["id"] == wf
    assert first.headers["cache-control"] == "no-cache"
    with statements(store) as seen:
        again = api.get(f"{API}/workflows/{wf}", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    assert len(seen) == 1 and "last_seq" in seen[0]
    # a second plain read is served from the cache: the same single read
    with statements(store) as seen:
        cached = api.get(f"{API}/workflows/{wf}")
    assert cached.json() == first.json() and len(seen) == 1
    # a list of tags, a weak/strong mismatch and * all count as a match
    for header in (f'"x", {tag}', tag.removeprefix("W/"), "*"):
        assert (
            api.get(f"{API}/workflows/{wf}", headers={"If-None-Match": header}).status_code == 304
        )
    # a change moves the tag, and the answer shows it
    act(api, wf, {"action": "hold", "selection": {"names": ["simulate"]}})
    changed = api.get(f"{API}/workflows/{wf}", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    assert changed.json()["counts"]["holding"] == 1


def test_node_and_event_pages_carry_validators_of_their_own(api: TestClient) -> None:
    wf = submit(api)
    nodes = api.get(f"{API}/workflows/{wf}/nodes")
    failed = api.get(f"{API}/workflows/{wf}/nodes", params={"status": "failed"})
    assert nodes.headers["etag"] != failed.headers["etag"]  # another question, another tag
    tag = nodes.headers["etag"]
    same = api.get(f"{API}/workflows/{wf}/nodes", headers={"If-None-Match": tag})
    assert same.status_code == 304
    events = api.get(f"{API}/workflows/{wf}/events")
    again = api.get(
        f"{API}/workflows/{wf}/events", headers={"If-None-Match": events.headers["etag"]}
    )
    assert again.status_code == 304
    act(api, wf, {"action": "hold", "selection": {"names": ["notify"]}})
    moved = api.get(f"{API}/workflows/{wf}/nodes", headers={"If-None-Match": tag})
    assert moved.status_code == 200
    assert {r["name"]: r["status"] for r in moved.json()["items"]}["notify"] == "holding"
    for path in ("", "/nodes", "/events"):
        assert api.get(f"{API}/workflows/zzzzzzzz{path}").status_code == 404


def test_cursors_page_through_every_node_once_while_statuses_change(api: TestClient) -> None:
    wf = submit(api)
    names = [r["name"] for r in api.get(f"{API}/workflows/{wf}/nodes").json()["items"]]
    seen: list[str] = []
    query: dict[str, Any] = {"limit": 3}
    while True:
        page = api.get(f"{API}/workflows/{wf}/nodes", params=query).json()
        seen += [r["name"] for r in page["items"]]
        if len(seen) == 3:  # a change between pages: a keyset page neither skips nor repeats
            act(api, wf, {"action": "hold", "selection": {"glob": "render.*"}})
        if page["next"] is None:
            break
        query["cursor"] = page["next"]
    assert seen == names
    held = api.get(f"{API}/workflows/{wf}/nodes", params={"status": "holding", "limit": 2}).json()
    assert [r["name"] for r in held["items"]] == ["render.1-2", "render.3-4"]
    assert held["next"] is not None


def test_a_bad_cursor_is_refused_and_changes_nothing(api: TestClient, store: Store) -> None:
    wf = submit(api)
    before = store.last_seq(wf)
    for cursor in ("%%%", "\u00e9", "a"):
        bad = api.get(f"{API}/workflows/{wf}/nodes", params={"cursor": cursor, "limit": 2})
        assert bad.status_code == 422, cursor
        assert bad.json()["error"]["where"] == "cursor"
    assert store.last_seq(wf) == before


def test_pollers_beyond_the_pool_all_get_consistent_answers(store: Store, data_dir: Path) -> None:
    """Forty pollers (the pool holds 15) polling with and without ETags while it changes."""
    app = create_app(store, data_dir=data_dir, token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with live_server(app) as url:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            wf = http.post(f"{API}/workflows", json=DOC).json()["id"]
        errors: list[str] = []
        seen_holding: list[int] = []

        def poll(i: int) -> None:
            tag = None
            with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
                for _ in range(8):
                    extra = {"If-None-Match": tag} if tag and i % 2 else {}
                    answer = http.get(f"{API}/workflows/{wf}", headers=extra)
                    if answer.status_code == 304:
                        continue
                    if answer.status_code != 200:
                        errors.append(answer.text)
                        continue
                    tag = answer.headers["etag"]
                    seen_holding.append(answer.json()["counts"]["holding"])

        def change() -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
                for glob in ("render.*", "comp.*"):
                    body = {"action": "hold", "selection": {"glob": glob}}
                    http.post(f"{API}/workflows/{wf}/actions", json=body)

        threads = [threading.Thread(target=poll, args=(i,)) for i in range(40)]
        threads.append(threading.Thread(target=change))
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        assert set(seen_holding) <= {0, 4, 6}  # whole states only: never a half-applied hold
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            assert http.get(f"{API}/workflows/{wf}").json()["counts"]["holding"] == 6


def test_the_client_revalidates_and_pages_by_cursor(store: Store, data_dir: Path) -> None:
    app = create_app(store, data_dir=data_dir, token=TOKEN)
    with live_server(app) as url:
        client = Client(url=url, token=TOKEN, timeout=10)
        wf = client.submit(DOC)["id"]
        first = client.workflow(wf)
        with statements(store) as seen:
            second = client.workflow(wf)
        assert second == first and len(seen) == 1  # a 304 answered from the client's copy
        second["name"] = "changed here"
        assert client.workflow(wf)["name"] == DOC["name"]  # the kept copy is not shared
        rows = list(client.iter_nodes(wf, page=2))
        assert [r["name"] for r in rows] == [r["name"] for r in client.nodes(wf)]
        assert len(rows) == 8
        client.hold(wf, ["notify"])
        assert client.workflow(wf)["counts"]["holding"] == 1


def test_the_in_memory_copy_follows_every_change_as_the_database_has_it(
    api: TestClient, store: Store
) -> None:
    """Node lists from memory (no glob) agree with the database's (a glob) after every kind
    of change: actions, cascades, engine transitions, archiving."""
    wf = submit(api)

    def agree() -> None:
        memory = api.get(f"{API}/workflows/{wf}/nodes").json()["items"]
        database = api.get(f"{API}/workflows/{wf}/nodes", params={"glob": "*"}).json()["items"]
        assert memory == database
        summary = api.get(f"{API}/workflows/{wf}").json()
        counts = store.counts(wf)
        assert summary["counts"] == {s.value: counts.get(s, 0) for s in Status}
        assert summary["status"] == store.status(wf).value
        failed = api.get(f"{API}/workflows/{wf}/nodes", params={"status": "failed", "limit": 1})
        direct = store.nodes(wf, statuses=["failed"], limit=1)
        assert [r["name"] for r in failed.json()["items"]] == [r.name for r in direct]

    agree()
    run_node(store, wf, "simulate")
    agree()
    run_node(store, wf, "render.1-2", ok=False)
    run_node(store, wf, "render.3-4")
    agree()
    act(api, wf, {"action": "hold", "selection": {"names": ["render.5-6"]}})
    act(api, wf, {"action": "skip", "selection": {"names": ["render.7-8"]}})
    agree()
    act(api, wf, {"action": "retry", "selection": {"names": ["simulate"]}})  # cascade
    agree()
    act(api, wf, {"action": "update", "selection": {"glob": "comp.*"}, "patch": {"retries": 2}})
    api.post(f"{API}/workflows/{wf}/archive")
    agree()
    assert api.get(f"{API}/workflows/{wf}").json()["archived"] is True


def test_a_cursor_past_a_missing_name_is_answered_by_the_database(api: TestClient) -> None:
    wf = submit(api)
    cursor = encode_cursor("render.4")  # between render.3-4 and render.5-6; no such node
    page = api.get(f"{API}/workflows/{wf}/nodes", params={"cursor": cursor, "limit": 2}).json()
    assert [r["name"] for r in page["items"]] == ["render.5-6", "render.7-8"]


def test_a_big_workflow_summary_is_counted_by_the_database_and_cached(
    api: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("stormflow.api.routes.workflows.SUMMARY_NODES", 3)  # DOC has 8
    wf = submit(api)
    first = api.get(f"{API}/workflows/{wf}")
    assert first.json()["total"] == 8
    assert not api.app.state.node_tables.loaded(wf)  # not read into memory
    with statements(store) as seen:
        again = api.get(f"{API}/workflows/{wf}", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and len(seen) == 1
    act(api, wf, {"action": "hold", "selection": {"names": ["notify"]}})
    assert api.get(f"{API}/workflows/{wf}").json()["counts"]["holding"] == 1
