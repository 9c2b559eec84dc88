"""API lists name frames and chunks in natural order: render.2 before render.10."""

from __future__ import annotations

from fastapi.testclient import TestClient

from stormflow.store import Store
from tests.api.helpers import API, act, submit

DOC = {
    "schema": 1,
    "name": "frames",
    "nodes": [
        {"name": "render", "frames": "1-12", "commands": [["true"]]},
        {"name": "comp", "frames": "1-16", "chunk_size": 4, "commands": [["true"]]},
    ],
    "edges": [{"from": "render", "to": "comp", "mode": "frames"}],
}
FRAMES = [f"render.{i}" for i in range(1, 13)]
CHUNKS = ["comp.1-4", "comp.5-8", "comp.9-12", "comp.13-16"]


def test_node_lists_graphs_and_action_answers_are_in_natural_order(
    api: TestClient, store: Store
) -> None:
    wf = submit(api, DOC)
    nodes = f"{API}/workflows/{wf}/nodes"
    assert [n["name"] for n in api.get(nodes).json()["items"]] == CHUNKS + FRAMES
    page = api.get(nodes, params={"glob": "render.*", "limit": 3, "offset": 8}).json()
    assert [n["name"] for n in page["items"]] == ["render.9", "render.10", "render.11"]
    assert [
        n["name"] for n in api.get(nodes, params={"limit": 2, "offset": 3}).json()["items"]
    ] == [
        "comp.13-16",
        "render.1",
    ]
    graph = api.get(f"{API}/workflows/{wf}/graph").json()
    assert graph["nodes"]["name"] == CHUNKS + FRAMES
    held = act(api, wf, {"action": "hold", "selection": {"glob": "render.1*"}}).json()
    assert held["changed"] == ["render.1", "render.10", "render.11", "render.12"]
    detail = api.get(f"{API}/workflows/{wf}/nodes/comp.9-12").json()
    assert detail["upstream"] == ["render.9", "render.10", "render.11", "render.12"]
