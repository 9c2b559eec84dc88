"""Sub-workflows from the command line and the DCC client, against a real `storm server`
(its own scheduler runs the children): `storm show` lists children, `storm tree`, `storm ls
--top`, `Client.children` and `Client.tree`."""

from __future__ import annotations

from pathlib import Path

from stormflow.client import Client
from tests.cli_remote.test_remote_cli import as_json, ok, one_line_error, settle, write
from tests.client.serverproc import Server

SHOT = {
    "schema": 1,
    "name": "shot",
    "params": {"shot": {"type": "string"}},
    "nodes": [
        {"name": "render", "commands": [["echo", "render ${shot}"]]},
        {"name": "comp", "commands": [["true"]]},
    ],
    "edges": [["render", "comp"]],
}
SEQUENCE = {
    "schema": 1,
    "name": "seq_cli",
    "nodes": [
        {
            "name": "shots",
            "kind": "workflow",
            "template": SHOT,
            "for_each": [{"shot": "sh010"}, {"shot": "sh020"}],
            "key": "shot",
        },
        {"name": "edit", "commands": [["true"]]},
    ],
    "edges": [["shots", "edit"]],
}


def test_show_tree_and_ls_know_children(server: Server, tmp_path: Path) -> None:
    workflow_id = as_json(server, "submit", write(tmp_path, SEQUENCE))["id"]
    assert settle(server, workflow_id) == "succeeded"
    client = Client(url=server.url, token=server.token)
    children = client.children(workflow_id)
    assert [c["node"] for c in children] == ["shots.sh010", "shots.sh020"]
    first = children[0]["workflow_id"]
    shown = ok(server, "show", workflow_id, inproc=True)
    assert "children (2):" in shown
    assert f"shots.sh010 -> {first}" in shown
    assert f"parent: {workflow_id} node shots.sh010" in ok(server, "show", first, inproc=True)
    tree = ok(server, "tree", workflow_id, inproc=True)
    assert "seq_cli" in tree and first in tree and "shots.sh020" in tree
    data = as_json(server, "tree", workflow_id, inproc=True)
    assert data["workflow"]["id"] == workflow_id
    assert [c["link"]["workflow_id"] for c in data["children"]] == [
        c["workflow_id"] for c in children
    ]
    assert client.tree(workflow_id) == data
    listed = [w["id"] for w in as_json(server, "ls", "--limit", "200", inproc=True)["items"]]
    assert first in listed
    top = [w["id"] for w in as_json(server, "ls", "--top", "--limit", "200", inproc=True)["items"]]
    assert workflow_id in top and first not in top
    assert "(in " + workflow_id in ok(server, "ls", inproc=True)


def test_tree_of_an_unknown_workflow_is_one_line(server: Server) -> None:
    line = one_line_error(server, "tree", "nosuchwf")
    assert "nosuchwf" in line
