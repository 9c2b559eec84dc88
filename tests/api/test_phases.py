"""Attempt phases: a running node is queued until its attempt's process starts, then executing."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from stormflow import core
from stormflow.store import Store
from tests.api.helpers import API, submit

WIDE: dict[str, Any] = {
    "schema": 1,
    "name": "wide",
    "nodes": [{"name": f"t{i:02}", "commands": [["true"]], "retries": 1} for i in range(10)],
}


def _run_all(store: Store, wf: str, at: float) -> dict[str, str]:
    names = [f"t{i:02}" for i in range(10)]
    applied = store.transact(wf, lambda v: core.run_ready(v, names, at=at))
    assert applied.outcome is not None
    return {name: attempt.token for name, attempt in applied.outcome.start}


def _start(store: Store, wf: str, name: str, token: str, at: float) -> None:
    store.transact(wf, lambda v: core.started(v, name, token, at=at, worker="w1"))


def test_running_nodes_are_queued_until_started_then_executing(
    api: TestClient, store: Store
) -> None:
    wf = submit(api, WIDE)
    at = time.time()
    tokens = _run_all(store, wf, at)
    assert len(tokens) == 10
    summary = api.get(f"{API}/workflows/{wf}").json()
    assert summary["counts"]["running"] == 10
    assert summary["phases"] == {"queued": 10, "executing": 0}

    _start(store, wf, "t00", tokens["t00"], at + 1.5)
    _start(store, wf, "t01", tokens["t01"], at + 2.5)
    summary = api.get(f"{API}/workflows/{wf}").json()
    assert summary["phases"] == {"queued": 8, "executing": 2}
    listed = api.get(f"{API}/workflows", params={"limit": 5}).json()["items"]
    assert [w["phases"] for w in listed if w["id"] == wf] == [{"queued": 8, "executing": 2}]

    items = {n["name"]: n for n in api.get(f"{API}/workflows/{wf}/nodes").json()["items"]}
    assert (items["t00"]["phase"], items["t00"]["started_at"]) == ("executing", at + 1.5)
    assert (items["t01"]["phase"], items["t01"]["started_at"]) == ("executing", at + 2.5)
    assert all(items[f"t{i:02}"]["phase"] == "queued" for i in range(2, 10))
    assert all(items[f"t{i:02}"]["started_at"] is None for i in range(2, 10))
    page = api.get(f"{API}/workflows/{wf}/nodes", params={"limit": 2, "offset": 1}).json()
    assert [(n["name"], n["phase"]) for n in page["items"]] == [
        ("t01", "executing"),
        ("t02", "queued"),
    ]

    detail = api.get(f"{API}/workflows/{wf}/nodes/t00").json()
    assert detail["phase"] == "executing" and detail["started_at"] == at + 1.5
    detail = api.get(f"{API}/workflows/{wf}/nodes/t05").json()
    assert detail["phase"] == "queued" and detail["started_at"] is None

    graph = api.get(f"{API}/workflows/{wf}/graph").json()["nodes"]
    assert graph["phase"][:3] == ["executing", "executing", "queued"]


def test_a_retry_waiting_for_its_delay_is_queued_and_ended_nodes_have_no_phase(
    api: TestClient, store: Store
) -> None:
    wf = submit(api, WIDE)
    at = time.time()
    tokens = _run_all(store, wf, at)
    _start(store, wf, "t00", tokens["t00"], at)
    _start(store, wf, "t01", tokens["t01"], at)
    store.transact(wf, lambda v: core.succeed(v, "t00", tokens["t00"], at=at + 1))
    store.transact(wf, lambda v: core.fail(v, "t01", tokens["t01"], at=at + 1, error="x"))

    t00 = api.get(f"{API}/workflows/{wf}/nodes/t00").json()
    assert t00["status"] == "succeeded"
    assert t00["phase"] is None and t00["started_at"] is None
    t01 = api.get(f"{API}/workflows/{wf}/nodes/t01").json()
    assert t01["status"] == "running" and len(t01["attempts"]) == 2
    assert t01["phase"] == "queued" and t01["started_at"] is None  # the retry has not started
    summary = api.get(f"{API}/workflows/{wf}").json()
    assert summary["phases"] == {"queued": 9, "executing": 0}


def test_nothing_running_means_no_phases(api: TestClient) -> None:
    wf = submit(api, {**WIDE, "nodes": [{**n, "status": "holding"} for n in WIDE["nodes"]]})
    summary = api.get(f"{API}/workflows/{wf}").json()
    assert summary["phases"] == {"queued": 0, "executing": 0}
    items = api.get(f"{API}/workflows/{wf}/nodes").json()["items"]
    assert {(n["phase"], n["started_at"]) for n in items} == {(None, None)}
