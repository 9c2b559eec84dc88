"""Stored templates over the API: add (checked first), list, show, remove; submitting a
template with params; bad input answers 4xx with nothing stored; many callers at once."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from stormflow.api.app import create_app
from stormflow.store import Store
from tests.api.helpers import API, TOKEN, live_server
from tests.api.test_concurrency import call

SHOT: dict[str, Any] = {
    "name": "shot-${shot}",
    "metadata": {"description": "one shot: render and comp"},
    "params": {
        "shot": {"type": "string", "description": "shot name"},
        "frames": {"type": "frames", "default": "1-4"},
        "chunk": {"type": "int", "default": 2},
    },
    "nodes": [
        {
            "name": "render",
            "commands": [["echo", "${shot}", "{start}"]],
            "frames": "${frames}",
            "chunk_size": "${chunk}",
        },
        {"name": "comp", "commands": [["echo", "${shot}"]]},
    ],
    "edges": [["render", "comp"]],
}


def add(api: TestClient, name: str = "shot", document: Any = None, **extra: Any) -> Any:
    body = {"name": name, "document": SHOT if document is None else document, **extra}
    return api.post(f"{API}/templates", json=body)


def names(api: TestClient) -> list[str]:
    return [t["name"] for t in api.get(f"{API}/templates").json()["templates"]]


def test_add_list_show_and_remove(api: TestClient) -> None:
    answer = add(api)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["name"] == "shot" and body["description"] == "one shot: render and comp"
    assert [p["name"] for p in body["params"]] == ["shot", "frames", "chunk"]
    assert body["params"][1] == {
        "name": "frames",
        "type": "frames",
        "default": "1-4",
        "description": None,
        "choices": None,
    }
    listed = api.get(f"{API}/templates").json()["templates"]
    assert [t["name"] for t in listed] == ["shot"] and "document" not in listed[0]
    assert api.get(f"{API}/templates/shot").json()["document"] == SHOT
    assert add(api).status_code == 409  # taken
    assert add(api, replace=True).status_code == 200
    assert api.delete(f"{API}/templates/shot").status_code == 204
    assert names(api) == []
    gone = api.get(f"{API}/templates/shot")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "unknown-template"
    assert api.delete(f"{API}/templates/shot").status_code == 404


def test_submit_a_stored_template_with_params(api: TestClient, store: Store) -> None:
    add(api)
    answer = api.post(
        f"{API}/workflows", json={"template": "shot", "params": {"shot": "sh010", "frames": "1-6"}}
    )
    assert answer.status_code == 201, answer.text
    wf = answer.json()["id"]
    assert answer.json()["name"] == "shot-sh010"
    assert sorted(n.name for n in store.nodes(wf)) == [
        "comp",
        "render.1-2",
        "render.3-4",
        "render.5-6",
    ]


def test_submit_an_inline_template_and_a_template_document(api: TestClient) -> None:
    answer = api.post(f"{API}/workflows", json={"document": SHOT, "params": {"shot": "sh020"}})
    assert answer.status_code == 201 and answer.json()["name"] == "shot-sh020"
    with_defaults = {**SHOT, "params": {**SHOT["params"], "shot": {"default": "sh030"}}}
    answer = api.post(f"{API}/workflows", json=with_defaults)
    assert answer.status_code == 201 and answer.json()["name"] == "shot-sh030"


def test_workflow_nodes_name_stored_templates(api: TestClient, store: Store) -> None:
    add(api)
    seq = {
        "name": "seq",
        "nodes": [
            {
                "name": "shots",
                "kind": "workflow",
                "template": "shot",
                "for_each": [{"shot": "sh010"}, {"shot": "sh020"}],
                "key": "shot",
            },
            {"name": "edit", "commands": [["echo", "edit"]]},
        ],
        "edges": [["shots", "edit"]],
    }
    checked = api.post(f"{API}/validate", json=seq).json()
    assert checked["errors"] == 0 and checked["warnings"] == 0, checked
    answer = api.post(f"{API}/workflows", json=seq)
    assert answer.status_code == 201, answer.text
    nodes = {n.name: n for n in store.nodes(answer.json()["id"])}
    assert sorted(nodes) == ["edit", "shots.sh010", "shots.sh020"]
    config = store.node(answer.json()["id"], "shots.sh020").current
    assert config["template"] == SHOT and config["params"] == {"shot": "sh020"}


BAD_SUBMISSIONS: list[tuple[dict[str, Any], int, str]] = [
    ({"template": "nope", "params": {}}, 404, "no stored template named 'nope'"),
    ({"template": "shot", "params": {}}, 422, "param 'shot' (string) has no value"),
    (
        {"template": "shot", "params": {"chunk": "x", "shot": "a"}},
        422,
        "param 'chunk' must be a whole number",
    ),
    ({"template": "shot", "params": ["shot"]}, 422, "params must be a mapping"),
    ({"template": "shot", "params": {}, "hold": True}, 422, "unknown field 'hold'"),
    ({"template": 7}, 422, "template must be a stored template's name or a document"),
    (
        {"name": "s", "nodes": [{"name": "w", "kind": "workflow", "template": "x.yaml"}]},
        422,
        "is a file: files are read where the document is",
    ),
]


def test_bad_submissions_store_nothing(api: TestClient, store: Store) -> None:
    add(api)
    for body, status, expected in BAD_SUBMISSIONS:
        answer = api.post(f"{API}/workflows", json=body)
        assert answer.status_code == status, answer.text
        assert expected in answer.json()["error"]["message"]
        validated = api.post(f"{API}/validate", json=body)
        assert validated.status_code in (404, 422) or validated.json()["errors"] > 0, validated.text
    assert store.workflows() == []


BAD_TEMPLATES: list[tuple[dict[str, Any], int, str]] = [
    ({"name": "bad name", "document": SHOT}, 422, "template name 'bad name' must start"),
    ({"document": SHOT}, 422, "template name 'shot-${shot}' must start"),
    (
        {"name": "t", "document": {**SHOT, "params": {"shot": {"type": "float"}}}},
        422,
        "type 'float'",
    ),
    ({"name": "t", "document": {**SHOT, "edges": [["render", "x"]]}}, 422, "unknown node 'x'"),
    (
        {
            "name": "t",
            "document": {
                "name": "t",
                "nodes": [{"name": "a", "kind": "workflow", "template": "t"}],
            },
        },
        422,
        "includes itself",
    ),
    (
        {
            "name": "t",
            "document": {
                "name": "t",
                "nodes": [{"name": "a", "kind": "workflow", "template": "u"}],
            },
        },
        422,
        "no stored template named 'u'",
    ),
    ({"name": "t", "document": SHOT, "extra": 1}, 422, "extra"),
    ({"name": "t", "document": []}, 422, "document"),
]


def test_bad_templates_are_refused_and_nothing_is_stored(api: TestClient) -> None:
    for body, status, expected in BAD_TEMPLATES:
        answer = api.post(f"{API}/templates", json=body)
        assert answer.status_code == status, answer.text
        assert expected in answer.text
    assert names(api) == []


def test_a_template_cannot_come_to_include_itself(api: TestClient) -> None:
    """B names A; replacing A with one naming B would close a loop: refused, A unchanged."""
    leaf = {"name": "a", "nodes": [{"name": "t", "commands": ["true"]}]}
    assert add(api, "a", leaf).status_code == 201
    b = {"name": "b", "nodes": [{"name": "x", "kind": "workflow", "template": "a"}]}
    assert add(api, "b", b).status_code == 201
    loop = {"name": "a", "nodes": [{"name": "y", "kind": "workflow", "template": "b"}]}
    answer = add(api, "a", loop, replace=True)
    assert answer.status_code == 422 and "includes itself (a > b > a)" in answer.text
    assert api.get(f"{API}/templates/a").json()["document"] == leaf


def test_more_callers_than_the_pool_store_templates_at_once(store: Store, tmp_path: Path) -> None:
    """4x the pool of callers, each adding its own template and then all one shared name:
    every call answers (no 500), each own name is stored, the shared one exactly once."""
    pool = store.engine.pool
    size = pool.size() + max(getattr(pool, "_max_overflow", 0), 0)
    callers = 4 * max(size, 4)
    statuses: Counter[int] = Counter()
    shared: Counter[int] = Counter()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    app = create_app(store, data_dir=data_dir, token=TOKEN)
    with live_server(app) as url:

        def caller(i: int) -> None:
            doc = {**SHOT, "name": f"t{i}-${{shot}}"}
            status, _body, _s = call(
                f"{url}{API}/templates", "POST", {"name": f"t{i}", "document": doc}
            )
            statuses[status] += 1
            status, _body, _s = call(
                f"{url}{API}/templates", "POST", {"name": "shared", "document": doc}
            )
            shared[status] += 1

        threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert statuses == {201: callers}, statuses
    assert shared == {201: 1, 409: callers - 1}, shared
    assert len(store.templates()) == callers + 1
