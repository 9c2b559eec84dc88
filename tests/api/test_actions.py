"""Actions over HTTP: the seed's batch edit, strict refusals, ineligible reasons, idempotency."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from stormflow.store import Store
from tests.api.helpers import API, DOC, act, run_node, submit


def rendered_with_failures(api: TestClient, store: Store) -> str:
    """render.5-6 and render.7-8 failed; comp.5-8 was skipped so notify could still run."""
    wf = submit(api)
    run_node(store, wf, "simulate")
    for name in ("render.1-2", "render.3-4"):
        run_node(store, wf, name)
    for name in ("render.5-6", "render.7-8"):
        run_node(store, wf, name, ok=False)
    run_node(store, wf, "comp.1-4")
    assert act(api, wf, {"action": "skip", "selection": {"names": ["comp.5-8"]}}).status_code == 200
    run_node(store, wf, "notify")
    return wf


BATCH_EDIT: dict[str, Any] = {
    "action": "update",
    "selection": {"glob": "render.*", "status": ["failed"]},
    "patch": {"instance_type": "mem-64"},
}


def test_batch_edit_of_failed_chunks_retries_them_and_their_downstream(
    api: TestClient, store: Store
) -> None:
    wf = rendered_with_failures(api, store)
    answer = act(api, wf, BATCH_EDIT, **{"X-Storm-User": "ann"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["action"] == "update" and body["selected"] == 2
    assert body["changed"] == ["render.5-6", "render.7-8", "comp.5-8", "notify"]
    assert body["cascaded"] == ["comp.5-8", "notify"]
    assert body["ineligible"] == [] and body["replayed"] is False
    assert {"node": "comp.5-8", "old": "skipped", "new": "open", "why": "cascade",
            "caused_by": "render.5-6"} in body["changes"]  # fmt: skip
    assert sorted(map(tuple, (s.values() for s in body["snapshots"]))) == [
        ("comp.5-8", 1), ("notify", 1), ("render.5-6", 1), ("render.7-8", 1)
    ]  # fmt: skip
    assert body["first_seq"] <= body["last_seq"]
    detail = api.get(f"{API}/workflows/{wf}/nodes/render.5-6").json()
    assert detail["status"] == "open" and detail["patch"] == {"instance_type": "mem-64"}
    assert detail["current"]["instance_type"] == "mem-64"
    assert detail["base"]["instance_type"] == "cpu-8"
    for name, why, caused_by in (
        ("render.5-6", "update", None),
        ("comp.5-8", "cascade", "render.5-6"),
        ("notify", "cascade", "render.5-6"),
    ):
        history = api.get(f"{API}/workflows/{wf}/nodes/{name}/history").json()
        (snap,) = history["snapshots"]
        assert (snap["why"], snap["caused_by"], snap["actor"]) == (why, caused_by, "ann")
    cascaded = api.get(f"{API}/workflows/{wf}/nodes/comp.5-8").json()
    assert cascaded["patch"] == {}  # nodes reached only by the cascade keep their patch
    events = api.get(f"{API}/workflows/{wf}/events", params={"after": body["first_seq"] - 1})
    assert [e["seq"] for e in events.json()["items"]] == list(
        range(body["first_seq"], body["last_seq"] + 1)
    )


def test_strict_refusal_is_409_with_the_list_and_changes_nothing(
    api: TestClient, store: Store
) -> None:
    wf = rendered_with_failures(api, store)
    before = api.get(f"{API}/workflows/{wf}/events").json()["last_seq"]
    answer = act(api, wf, {"action": "unhold", "selection": {"glob": "render.*"}, "strict": True})
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "action-refused"
    assert [i["node"] for i in error["details"]] == [
        "render.1-2", "render.3-4", "render.5-6", "render.7-8"
    ]  # fmt: skip
    assert error["details"][2] == {
        "node": "render.5-6", "status": "failed", "reason": "cannot unhold a failed node"
    }  # fmt: skip
    assert api.get(f"{API}/workflows/{wf}/events").json()["last_seq"] == before


def test_ineligible_nodes_are_listed_with_their_reason(api: TestClient, store: Store) -> None:
    wf = rendered_with_failures(api, store)
    answer = act(api, wf, {"action": "skip", "selection": {"glob": "render.*"}})
    assert answer.status_code == 200
    body = answer.json()
    assert body["selected"] == 4 and body["changed"] == ["render.5-6", "render.7-8"]
    assert body["ineligible"] == [
        {"node": "render.1-2", "status": "succeeded", "reason": "cannot skip a succeeded node"},
        {"node": "render.3-4", "status": "succeeded", "reason": "cannot skip a succeeded node"},
    ]
    retry = act(api, wf, {"action": "retry", "selection": {"names": ["simulate"]}})
    assert set(retry.json()["cascaded"]) == {
        "render.1-2", "render.3-4", "render.5-6", "render.7-8", "comp.1-4", "comp.5-8", "notify"
    }  # fmt: skip
    refused = act(api, wf, {"action": "retry", "selection": {"names": ["comp.5-8"]}})
    assert refused.json()["ineligible"][0]["reason"].startswith("cannot retry an open node")


def test_selection_errors(api: TestClient, store: Store) -> None:
    wf = submit(api)
    empty = act(api, wf, {"action": "hold", "selection": {"glob": "nothing.*"}})
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "empty-selection"
    none = act(api, wf, {"action": "hold", "selection": {}})
    assert none.status_code == 422
    unknown = act(api, wf, {"action": "hold", "selection": {"names": ["render.1-2", "ghost"]}})
    assert unknown.status_code == 404 and unknown.json()["error"]["details"] == {"names": ["ghost"]}
    assert act(api, "zzzzzzzz", {"action": "hold", "selection": {"glob": "*"}}).status_code == 404
    no_patch = act(api, wf, {"action": "update", "selection": {"glob": "*"}})
    assert no_patch.status_code == 422
    both = act(api, wf, {"action": "hold", "selection": {"names": ["simulate"], "glob": "r*"}})
    assert both.status_code == 422  # all filters must match: nothing does


@pytest.mark.parametrize("reuse_elsewhere", [False, True])
def test_idempotency_key_replays_the_first_answer(
    api: TestClient, store: Store, reuse_elsewhere: bool
) -> None:
    wf = rendered_with_failures(api, store)
    first = act(api, wf, BATCH_EDIT, **{"Idempotency-Key": "edit-1"})
    if reuse_elsewhere:  # the same key on another endpoint is a different request
        other = api.post(f"{API}/workflows", json={"schema": 1, "name": "x", "nodes": []},
                         headers={"Idempotency-Key": "edit-1"})  # fmt: skip
        assert other.status_code in (201, 422)
    again = act(api, wf, BATCH_EDIT, **{"Idempotency-Key": "edit-1"})
    assert again.status_code == 200
    assert again.json() == first.json() | {"replayed": True}
    history = api.get(f"{API}/workflows/{wf}/nodes/render.5-6/history").json()
    assert len(history["snapshots"]) == 1


def test_history_order_and_diff(api: TestClient, store: Store) -> None:
    wf = rendered_with_failures(api, store)
    act(api, wf, BATCH_EDIT)
    run_node(store, wf, "render.5-6", ok=False)
    edit = {"action": "update", "selection": {"names": ["render.5-6"]},
            "patch": {"env": {"A": "1"}, "retries": 2}}  # fmt: skip
    assert act(api, wf, edit).status_code == 200
    history = api.get(f"{API}/workflows/{wf}/nodes/render.5-6/history").json()
    assert history["current"]["patch"] == {
        "instance_type": "mem-64", "env": {"A": "1"}, "retries": 2
    }  # fmt: skip
    assert [s["number"] for s in history["snapshots"]] == [2, 1]
    assert history["snapshots"][0]["patch"] == {"instance_type": "mem-64"}
    assert history["snapshots"][1]["patch"] == {}
    assert history["snapshots"][1]["status"] == "failed"
    assert history["snapshots"][0]["attempts"][0]["snapshot"] == 2
    assert history["base"]["config"]["instance_type"] == "cpu-8"
    diff = api.get(f"{API}/workflows/{wf}/nodes/render.5-6/diff").json()
    assert diff["a"] == "current" and diff["b"] == "base"
    assert diff["changes"] == [
        {"path": "env.A", "a": "1", "b": None},
        {"path": "instance_type", "a": "mem-64", "b": "cpu-8"},
        {"path": "retries", "a": 2, "b": 0},
    ]
    snaps = api.get(f"{API}/workflows/{wf}/nodes/render.5-6/diff", params={"a": "1", "b": "2"})
    assert snaps.json()["changes"] == [{"path": "instance_type", "a": "cpu-8", "b": "mem-64"}]
    missing = api.get(f"{API}/workflows/{wf}/nodes/render.5-6/diff", params={"a": "9"})
    assert missing.status_code == 404
    bad = api.get(f"{API}/workflows/{wf}/nodes/render.5-6/diff", params={"a": "later"})
    assert bad.status_code == 422
    replay = act(api, wf, {"action": "replay", "selection": {"names": ["render.5-6"]},
                           "snapshot": 2, "target": "holding"})  # fmt: skip
    assert replay.status_code == 200
    node = api.get(f"{API}/workflows/{wf}/nodes/render.5-6").json()
    assert node["status"] == "holding" and node["patch"] == {"instance_type": "mem-64"}


def test_node_detail_allowed_actions(api: TestClient, store: Store) -> None:
    wf = rendered_with_failures(api, store)

    def allowed(name: str) -> list[str]:
        detail = api.get(f"{API}/workflows/{wf}/nodes/{name}")
        assert detail.status_code == 200
        return list(detail.json()["allowed_actions"])

    # nothing to revert without a patch; nothing to replay without a snapshot
    assert allowed("render.5-6") == ["skip", "update", "retry"]
    assert allowed("render.1-2") == ["cancel", "update", "retry"]
    assert allowed("comp.5-8") == ["cancel", "update", "retry"]  # skipped
    act(api, wf, {"action": "retry", "selection": {"names": ["render.5-6"]}})
    assert allowed("render.5-6") == ["hold", "skip", "update", "replay"]
    act(
        api,
        wf,
        {"action": "update", "selection": {"names": ["render.5-6"]}, "patch": {"retries": 2}},
    )
    assert allowed("render.5-6") == ["hold", "skip", "update", "revert", "replay"]
    detail = api.get(f"{API}/workflows/{wf}/nodes/comp.1-4").json()
    assert detail["upstream"] == ["render.1-2", "render.3-4"]
    assert detail["downstream"] == ["notify"]
    assert detail["submitted"] == "open" and detail["snapshot_count"] == 0
    assert detail["attempts"][0]["result"] == "succeeded"
    assert api.get(f"{API}/workflows/{wf}/nodes/ghost").status_code == 404


def test_a_workflow_with_a_ttl_expires_and_then_refuses_actions(
    api: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    wf = submit(api, {**DOC, "ttl": "2h"})
    shown = api.get(f"{API}/workflows/{wf}").json()
    assert shown["expired"] is False
    assert shown["expires_at"] == pytest.approx(time.time() + 7200, abs=60)
    hold = {"action": "hold", "selection": {"names": ["notify"]}}
    assert act(api, wf, hold).status_code == 200

    later = time.time() + 7201
    monkeypatch.setattr(time, "time", lambda: later)  # two hours on
    assert api.get(f"{API}/workflows/{wf}").json()["expired"] is True
    before = store.events(wf)
    answer = act(api, wf, {"action": "unhold", "selection": {"names": ["notify"]}})
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "workflow-expired"
    assert wf in answer.json()["error"]["message"]
    assert store.events(wf) == before  # nothing changed
