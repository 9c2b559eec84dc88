"""Checked edits: an update leaving a node with a configuration no document could give it is
refused whole (422, every entry), and nothing is stored (spec: Updates; issue 11, finding 1)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from stormflow.store import Store
from tests.api.helpers import API, act, run_node, submit

BAD_PATCHES: list[tuple[dict[str, Any], str, str]] = [
    ({"frames": "1-x"}, "bad-frames", "frames"),
    ({"commands": 5}, "bad-param-type", "commands"),
    ({"env": 5}, "bad-param-type", "env"),
    ({"limits": 5}, "bad-param-type", "limits"),
    ({"retries": "many"}, "bad-param-type", "retries"),
    ({"retry_delay": "abc"}, "bad-param-type", "retry_delay"),
    ({"retires": 3}, "unknown-param", "retires"),
    ({"commands": None}, "missing-param", "commands"),
    ({"commands": [[]]}, "empty-commands", "commands"),
    ({"min_seconds": 10, "max_seconds": 2}, "min-above-max", "min_seconds"),
    ({"retries": 1000}, "too-many-retries", "retries"),
    ({"kind": "email"}, "fixed-key", "kind"),
]


def _state(api: TestClient, wf: str) -> tuple[int, list[dict[str, Any]]]:
    events = api.get(f"{API}/workflows/{wf}/events").json()["last_seq"]
    nodes = [
        api.get(f"{API}/workflows/{wf}/nodes/{n}").json()
        for n in ("simulate", "render.1-2", "render.3-4", "notify")
    ]
    return events, nodes


@pytest.mark.parametrize(("patch", "code", "field"), BAD_PATCHES)
def test_a_bad_patch_is_refused_whole_and_changes_nothing(
    api: TestClient, store: Store, patch: dict[str, Any], code: str, field: str
) -> None:
    wf = submit(api)
    run_node(store, wf, "simulate")
    run_node(store, wf, "render.1-2", ok=False)
    before = _state(api, wf)
    body = {"action": "update", "selection": {"glob": "render.*"}, "patch": patch}
    answer = act(api, wf, body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid-update"
    entries = error["details"]["entries"]
    # each of the four render chunks is refused, by name
    assert {e["code"] for e in entries} == {code}
    assert sorted(e["nodes"][0] for e in entries) == [
        "render.1-2", "render.3-4", "render.5-6", "render.7-8"
    ]  # fmt: skip
    assert {e["field"] for e in entries} == {field}
    assert "'render.1-2'" in error["message"] and "(and 3 more)" in error["message"]
    assert _state(api, wf) == before


def test_one_bad_node_refuses_the_whole_selection(api: TestClient, store: Store) -> None:
    wf = submit(api)
    before = _state(api, wf)
    # frame tokens are fine on a render chunk, not on simulate (it has no frames)
    body = {
        "action": "update",
        "selection": {"names": ["render.1-2", "simulate"]},
        "patch": {"commands": [["render", "{start}"]]},
    }
    answer = act(api, wf, body)
    assert answer.status_code == 422, answer.text
    (entry,) = answer.json()["error"]["details"]["entries"]
    assert entry["code"] == "frame-token-without-frames" and entry["nodes"] == ["simulate"]
    assert _state(api, wf) == before


def test_good_patches_pass_on_chunks_and_email_nodes(api: TestClient, store: Store) -> None:
    wf = submit(api)
    for selection, patch in (
        ({"glob": "render.*"}, {"retries": 2, "retry_delay": 0.5, "env": {"A": "1"}}),
        ({"names": ["render.1-2"]}, {"frames": "1-3", "max_seconds": 60, "min_seconds": 1}),
        ({"names": ["notify"]}, {"subject": "ok ${status}", "retries": 1}),
        ({"names": ["simulate"]}, {"limits": ["license"], "lost_retries": 5}),
    ):
        answer = act(api, wf, {"action": "update", "selection": selection, "patch": patch})
        assert answer.status_code == 200, answer.text
    node = api.get(f"{API}/workflows/{wf}/nodes/render.1-2").json()
    assert node["current"]["frames"] == "1-3" and node["current"]["retries"] == 2


def test_retry_and_revert_check_the_resulting_configuration_too(
    api: TestClient, store: Store
) -> None:
    """A hand-edited stored patch is not retried as it is: the retry is refused with the
    reason; an update that fixes it is accepted."""
    wf = submit(api)
    run_node(store, wf, "simulate", ok=False)
    with store.write() as conn:
        conn.exec_driver_sql(
            "UPDATE nodes SET patch = '{\"commands\": 5}' WHERE workflow_id = ? AND name = ?"
            if store.dialect == "sqlite"
            else "UPDATE nodes SET patch = '{\"commands\": 5}' WHERE workflow_id = %s"
            " AND name = %s",
            (wf, "simulate"),
        )
    answer = act(api, wf, {"action": "retry", "selection": {"names": ["simulate"]}})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"]["entries"][0]["code"] == "bad-param-type"
    # null removes the key: no commands at all is refused as well
    removed = act(
        api,
        wf,
        {"action": "update", "selection": {"names": ["simulate"]}, "patch": {"commands": None}},
    )
    assert removed.status_code == 422
    assert removed.json()["error"]["details"]["entries"][0]["code"] == "missing-param"
    reverted = act(api, wf, {"action": "revert", "selection": {"names": ["simulate"]}})
    assert reverted.status_code == 200, reverted.text  # back to base: valid
    assert api.get(f"{API}/workflows/{wf}/nodes/simulate").json()["patch"] == {}


def test_a_workflow_over_the_node_limit_is_refused_and_nothing_is_stored(
    api: TestClient, store: Store
) -> None:
    doc = {
        "schema": 1,
        "name": "huge",
        "nodes": [{"name": "r", "frames": "1-1000000", "commands": [["true"]]}],
    }
    answer = api.post(f"{API}/workflows", json=doc)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["details"]["entries"][0]["code"] == "too-many-nodes"
    assert "--max-nodes" in error["message"] and "STORM_MAX_NODES" in error["message"]
    assert api.get(f"{API}/workflows").json()["items"] == []


def test_a_refusal_on_many_nodes_sends_the_first_entries_and_counts_the_rest(
    api: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stormflow.api.routes import actions

    monkeypatch.setattr(actions, "MAX_ENTRIES", 3)
    wf = submit(api)
    body = {"action": "update", "selection": {"glob": "*"}, "patch": {"retries": "many"}}
    answer = act(api, wf, body)
    assert answer.status_code == 422
    details = answer.json()["error"]["details"]
    # simulate, 4 render chunks, 2 comp chunks, notify: 8 nodes, one entry each
    assert len(details["entries"]) == 3 and details["omitted"] == 5
