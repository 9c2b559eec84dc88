"""The compact graph marks what per-node buttons need: patches (revert) and snapshots
(replay), sparsely, by index, beside each running node's phase."""

from __future__ import annotations

from fastapi.testclient import TestClient

from stormflow import core
from stormflow.store import Store
from tests.api.helpers import API, act, run_node, submit


def test_live_attempts_patches_and_snapshots(api: TestClient, store: Store) -> None:
    wf = submit(api)
    run_node(store, wf, "simulate")
    run_node(store, wf, "render.7-8", ok=False)
    act(api, wf, {"action": "retry", "selection": {"names": ["render.7-8"]}})
    act(api, wf, {"action": "update", "selection": {"names": ["render.5-6"]},
                  "patch": {"retries": 2}})  # fmt: skip
    store.transact(wf, lambda v: core.run(v, "render.1-2", at=1.0))  # queued
    applied = store.transact(wf, lambda v: core.run(v, "render.3-4", at=1.0))
    assert applied.outcome is not None
    token = applied.outcome.start[0][1].token
    store.transact(wf, lambda v: core.started(v, "render.3-4", token, at=5.0, worker="w"))
    graph = api.get(f"{API}/workflows/{wf}/graph").json()
    names = graph["nodes"]["name"]
    at = names.index
    phase = graph["nodes"]["phase"]
    assert (phase[at("render.1-2")], phase[at("render.3-4")]) == ("queued", "executing")
    assert graph["patched"] == [at("render.5-6")]
    assert graph["snapshots"] == [[at("render.7-8"), 1]]
    reverted = act(api, wf, {"action": "revert", "selection": {"names": ["render.5-6"]}})
    assert reverted.status_code == 200
    assert api.get(f"{API}/workflows/{wf}/graph").json()["patched"] == []
    page = api.get(f"{API}/workflows/{wf}/graph", params={"offset": 5, "limit": 2}).json()
    assert page["nodes"]["name"] == names[5:7] and page["patched"] == []
    assert page["snapshots"] == [[1, 1]]  # indexes into the page: render.7-8 is its second
