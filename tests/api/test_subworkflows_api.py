"""Sub-workflows over HTTP (issue 15): parent/child links in the workflow shapes, the list
that hides children, a `workflow` node's child, and clear errors. SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.store import Store
from tests.api.helpers import API, submit
from tests.engine.helpers import drive, finished

PY = sys.executable
SHOT: dict[str, Any] = {
    "schema": 1,
    "name": "shot",
    "params": {"shot": {"type": "string"}},
    "nodes": [
        {"name": "render", "commands": [[PY, "-c", "pass"]]},
        {"name": "comp", "commands": [[PY, "-c", "print('${shot}')"]]},
    ],
    "edges": [["render", "comp"]],
}
SEQUENCE: dict[str, Any] = {
    "schema": 1,
    "name": "sequence",
    "nodes": [
        {
            "name": "shots",
            "kind": "workflow",
            "template": SHOT,
            "for_each": [{"shot": "sh010"}, {"shot": "sh020"}],
            "key": "shot",
        },
        {"name": "edit", "commands": [[PY, "-c", "pass"]]},
    ],
    "edges": [["shots", "edit"]],
}


def run(store: Store, data_dir: Path, wf: str) -> None:
    scheduler = Scheduler(
        store,
        Settings(data_dir=data_dir, workflows={wf}, supervised=False, housekeeping_every=0.05),
        slots=4,
    )
    try:
        drive(scheduler, finished(store, wf), timeout=30)
    finally:
        scheduler.close(grace=1.0)


def test_a_parent_lists_its_children_and_each_child_names_its_parent(
    api: TestClient, store: Store, data_dir: Path
) -> None:
    wf = submit(api, SEQUENCE)
    run(store, data_dir, wf)
    body = api.get(f"{API}/workflows/{wf}").json()
    assert body["status"] == "succeeded"
    assert body["parent"] is None
    children = body["children"]
    assert [c["node"] for c in children] == ["shots.sh010", "shots.sh020"]
    assert all(c["status"] == "succeeded" and c["current"] for c in children)
    assert all(c["counts"] == {"succeeded": 2} for c in children)
    # the header's rollup: edit, and the two nodes of each child (each workflow node stands
    # for its child)
    assert body["rollup"]["succeeded"] == 5
    child = children[0]["workflow_id"]
    detail = api.get(f"{API}/workflows/{child}").json()
    assert detail["parent"] == {
        "workflow_id": wf,
        "node": "shots.sh010",
        "token": children[0]["token"],
    }
    assert detail["name"] == "sequence/shots.sh010"
    assert api.get(f"{API}/workflows/{wf}/children").json() == children
    node = api.get(f"{API}/workflows/{wf}/nodes/shots.sh020").json()
    assert node["child"]["workflow_id"] == children[1]["workflow_id"]
    assert api.get(f"{API}/workflows/{wf}/nodes/edit").json()["child"] is None


def test_the_list_hides_children_when_asked_and_names_each_ones_parent(
    api: TestClient, store: Store, data_dir: Path
) -> None:
    wf = submit(api, SEQUENCE)
    run(store, data_dir, wf)
    every = api.get(f"{API}/workflows").json()["items"]
    assert len(every) == 3
    parents = {w["id"]: w["parent"] for w in every}
    assert parents[wf] is None
    assert sorted(p["node"] for w, p in parents.items() if w != wf) == [
        "shots.sh010",
        "shots.sh020",
    ]
    top = api.get(f"{API}/workflows", params={"children": "false"}).json()["items"]
    assert [w["id"] for w in top] == [wf]


def test_the_detail_etag_moves_when_a_child_changes(
    api: TestClient, store: Store, data_dir: Path
) -> None:
    wf = submit(api, SEQUENCE)
    run(store, data_dir, wf)
    first = api.get(f"{API}/workflows/{wf}")
    tag = first.headers["etag"]
    assert api.get(f"{API}/workflows/{wf}", headers={"If-None-Match": tag}).status_code == 304
    child = first.json()["children"][0]["workflow_id"]
    cancel = {"action": "cancel", "selection": {"names": ["comp"]}}
    answer = api.post(f"{API}/workflows/{child}/actions", json=cancel)
    assert answer.status_code == 200, answer.text
    again = api.get(f"{API}/workflows/{wf}", headers={"If-None-Match": tag})
    assert again.status_code == 200
    assert again.json()["children"][0]["status"] == "failed"


def test_bad_requests_about_children_are_clear_and_change_nothing(
    api: TestClient, store: Store
) -> None:
    answer = api.get(f"{API}/workflows/nosuchwf/children")
    assert answer.status_code == 404
    assert "nosuchwf" in answer.json()["error"]["message"]
    answer = api.get(f"{API}/workflows", params={"children": "maybe"})
    assert answer.status_code == 422
    assert "children" in answer.text
    bad = {**SEQUENCE, "nodes": [{**SEQUENCE["nodes"][0], "params": {"nope": 1}}]}
    bad["edges"] = []
    answer = api.post(f"{API}/workflows", json=bad)
    assert answer.status_code == 422
    assert "nope" in answer.text
    assert store.workflows() == []


def test_an_update_giving_a_workflow_node_a_bad_child_is_refused_and_stores_nothing(
    api: TestClient, store: Store, data_dir: Path
) -> None:
    wf = submit(api, SEQUENCE)
    run(store, data_dir, wf)
    seq = store.last_seq(wf)
    bad_template = {**SHOT, "edges": [["render", "nowhere"]]}
    body = {
        "action": "update",
        "selection": {"names": ["shots.sh010"]},
        "patch": {"template": bad_template},
    }
    answer = api.post(f"{API}/workflows/{wf}/actions", json=body)
    assert answer.status_code == 422, answer.text
    assert "nowhere" in answer.text
    assert store.last_seq(wf) == seq
    assert len(store.children(wf)) == 2


def test_a_retried_workflow_nodes_snapshot_names_its_old_child(
    api: TestClient, store: Store, data_dir: Path
) -> None:
    wf = submit(api, SEQUENCE)
    run(store, data_dir, wf)
    old = api.get(f"{API}/workflows/{wf}/nodes/shots.sh010").json()["child"]["workflow_id"]
    retry = {"action": "retry", "selection": {"names": ["shots.sh010"]}}
    assert api.post(f"{API}/workflows/{wf}/actions", json=retry).status_code == 200
    run(store, data_dir, wf)
    history = api.get(f"{API}/workflows/{wf}/nodes/shots.sh010/history").json()
    assert history["snapshots"][0]["child"] == old
    new = api.get(f"{API}/workflows/{wf}/nodes/shots.sh010").json()["child"]["workflow_id"]
    assert new != old
    assert api.get(f"{API}/workflows/{old}").json()["status"] == "succeeded"  # still readable
    children = api.get(f"{API}/workflows/{wf}/children").json()
    assert [(c["workflow_id"], c["current"]) for c in children if c["node"] == "shots.sh010"] == [
        (old, False),
        (new, True),
    ]
