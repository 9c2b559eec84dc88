"""`"dry_run": true` on the actions endpoint: the same answer as the action, nothing stored."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from stormflow import core
from stormflow.api.app import create_app
from stormflow.store import Store
from tests.api.helpers import API, TOKEN, act, live_server, run_node, submit
from tests.api.test_actions import BATCH_EDIT, rendered_with_failures

#: What only an applied action has: where its events went.
APPLIED_ONLY = ("first_seq", "last_seq", "replayed", "dry_run", "seq")


def stored(api: TestClient, store: Store, wf: str) -> tuple[Any, ...]:
    """Everything a dry run must leave alone."""
    events = api.get(f"{API}/workflows/{wf}/events", params={"limit": 10_000}).json()
    nodes = api.get(f"{API}/workflows/{wf}/nodes").json()["items"]
    attempts = {n["name"]: store.attempts(wf, n["name"]) for n in nodes}
    snaps = {n["name"]: store.snapshots(wf, n["name"]) for n in nodes}
    return events, nodes, attempts, snaps


def without(answer: dict[str, Any], keys: tuple[str, ...] = APPLIED_ONLY) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k not in keys}


def test_a_dry_run_answers_what_the_action_then_does_and_stores_nothing(
    api: TestClient, store: Store
) -> None:
    wf = rendered_with_failures(api, store)
    before = stored(api, store, wf)
    dry = act(api, wf, BATCH_EDIT | {"dry_run": True}, **{"Idempotency-Key": "k1"})
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert body["dry_run"] is True and body["first_seq"] is None and body["last_seq"] is None
    assert body["seq"] == before[0]["last_seq"]  # the moment it read
    assert body["counts"] == {
        "selected": 2,
        "direct": 2,
        "cascaded": 2,
        "ineligible": 0,
        "snapshots": 4,
        "stopped": 0,
    }
    assert stored(api, store, wf) == before
    # the key was not recorded: the real action with it is applied, not replayed
    real = act(api, wf, BATCH_EDIT, **{"Idempotency-Key": "k1"})
    assert real.status_code == 200 and real.json()["replayed"] is False
    assert real.json()["dry_run"] is False
    assert without(real.json()) == without(body)
    assert real.json()["seq"] == real.json()["last_seq"]


def test_a_dry_run_stops_no_attempt_but_counts_those_the_action_would(
    api: TestClient, store: Store
) -> None:
    wf = submit(api)
    run_node(store, wf, "simulate")
    applied = store.transact(wf, lambda v: core.run(v, "render.1-2", at=1.0))
    assert applied.outcome is not None
    token = applied.outcome.start[0][1].token
    before = stored(api, store, wf)
    body = {"action": "update", "selection": {"names": ["render.1-2"]}, "patch": {},
            "target": "holding", "dry_run": True}  # fmt: skip
    dry = act(api, wf, body).json()  # "stop and hold": an update that changes nothing
    assert dry["changes"] == [
        {"node": "render.1-2", "old": "running", "new": "holding", "why": "retry",
         "caused_by": None}
    ]  # fmt: skip
    assert dry["counts"]["stopped"] == 1 and dry["counts"]["snapshots"] == 1
    assert stored(api, store, wf) == before
    assert store.node(wf, "render.1-2").live_token == token  # still running
    real = act(api, wf, body | {"dry_run": False}).json()
    assert without(real) == without(dry)
    assert store.node(wf, "render.1-2").status is core.Status.HOLDING


def test_a_query_selection_is_resolved_at_the_moment_of_each_dry_run(
    api: TestClient, store: Store
) -> None:
    wf = submit(api)
    run_node(store, wf, "simulate")
    for name in ("render.1-2", "render.3-4", "render.5-6"):
        store.transact(wf, lambda v, n=name: core.run(v, n, at=1.0))
    query = {"action": "retry", "selection": {"status": ["running"]}, "dry_run": True}
    first = act(api, wf, query).json()
    assert first["counts"]["selected"] == 3
    assert first["changed"][:3] == ["render.1-2", "render.3-4", "render.5-6"]
    token = store.node(wf, "render.3-4").live_token
    assert token is not None
    store.transact(wf, lambda v: core.succeed(v, "render.3-4", token, at=2.0))
    now = act(api, wf, query).json()
    assert now["counts"]["selected"] == 2 and "render.3-4" not in now["changed"]
    assert now["seq"] > first["seq"]


def test_bad_dry_runs_are_refused_as_the_action_would_be_and_store_nothing(
    api: TestClient, store: Store
) -> None:
    wf = rendered_with_failures(api, store)
    before = stored(api, store, wf)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"action": "hold", "selection": {"glob": "*"}, "dry_run": "maybe"}, 422, "invalid-input"),
        ({"action": "hold", "selection": {"glob": "nothing.*"}}, 422, "empty-selection"),
        ({"action": "hold", "selection": {"names": ["ghost"]}}, 404, "unknown-node"),
        ({"action": "unhold", "selection": {"glob": "render.*"}, "strict": True}, 409,
         "action-refused"),
        ({"action": "update", "selection": {"glob": "*"}}, 422, "invalid-input"),
        ({"action": "revert", "selection": {"glob": "render.*"}, "strict": True}, 409,
         "action-refused"),
    ]  # fmt: skip
    for body, status, code in cases:
        answer = act(api, wf, {"dry_run": True} | body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["error"]["code"] == code, body
    assert act(api, "zzzzzzzz", {"action": "hold", "selection": {"glob": "*"},
                                 "dry_run": True}).status_code == 404  # fmt: skip
    assert stored(api, store, wf) == before


@pytest.mark.slow
def test_dry_runs_beyond_the_pool_each_see_one_moment(store: Store, tmp_path: Any) -> None:
    """24 callers (more than the 5 + 10 connections of the pool) ask while a writer holds and
    unholds every chunk at once: each answer sees all held or all open, never a mix."""
    app = create_app(store, data_dir=tmp_path, token=TOKEN)
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        wf = submit(api)
    chunks = ["render.1-2", "render.3-4", "render.5-6", "render.7-8"]
    done = threading.Event()
    flips = 0

    def writer() -> None:
        nonlocal flips
        while not done.is_set():
            store.transact(wf, lambda v: core.hold(v, chunks, at=1.0))
            store.transact(wf, lambda v: core.unhold(v, chunks, at=1.0))
            flips += 1

    body = {"action": "hold", "selection": {"glob": "render.*"}, "dry_run": True}
    with live_server(app) as url:
        thread = threading.Thread(target=writer)
        thread.start()
        try:

            def ask(_: int) -> tuple[int, int, int]:
                with httpx.Client(base_url=url, timeout=60,
                                  headers={"Authorization": f"Bearer {TOKEN}"}) as c:  # fmt: skip
                    got = c.post(f"{API}/workflows/{wf}/actions", json=body)
                assert got.status_code == 200, got.text
                counts = got.json()["counts"]
                return counts["direct"], counts["ineligible"], got.json()["seq"]

            with ThreadPoolExecutor(24) as pool:
                answers = list(pool.map(ask, range(96)))
        finally:
            done.set()
            thread.join()
    assert flips > 0
    assert {(d, i) for d, i, _ in answers} <= {(4, 0), (0, 4)}
    # no dry run wrote an event: the log holds the submit and the writer's actions only
    events = store.events(wf, limit=100_000)
    assert {e.type for e in events} == {"submit", "hold", "unhold"}
