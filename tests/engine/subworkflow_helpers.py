"""Helpers for sub-workflow tests: parents with `workflow` nodes, children, the integrity rule."""

from __future__ import annotations

import sys
from typing import Any

from stormflow import core
from stormflow.store import Store
from tests.engine.helpers import Planned, submit, task

PY = sys.executable


def sleep_command(seconds: float) -> list[str]:
    return [PY, "-c", f"import time; time.sleep({seconds})"]


def exit_command(code: int) -> list[str]:
    return [PY, "-c", f"raise SystemExit({code})"]


def child_doc(
    nodes: list[dict[str, Any]], edges: list[list[str]] | None = None, name: str = "shot"
) -> dict[str, Any]:
    return {"schema": 1, "name": name, "nodes": nodes, "edges": edges or []}


def node(name: str, command: list[str], **more: Any) -> dict[str, Any]:
    return {"name": name, "kind": "task", "commands": [command], **more}


def shot(name: str, document: dict[str, Any], **params: Any) -> Planned:
    return Planned(name, kind="workflow", config={"template": document, "params": params})


def parent(
    store: Store,
    document: dict[str, Any],
    *,
    before: bool = True,
    after: bool = True,
) -> str:
    """prep -> shot (a workflow node) -> after."""
    nodes = [shot("shot", document)]
    edges = []
    if before:
        nodes.insert(0, task("prep", [PY, "-c", "pass"]))
        edges.append(("prep", "shot"))
    if after:
        nodes.append(task("after", [PY, "-c", "pass"]))
        edges.append(("shot", "after"))
    return submit(store, nodes, edges, name="seq")


def integrity(store: Store, *workflow_ids: str) -> None:
    """The integrity rule holds in every workflow given (parents and children)."""
    for workflow_id in workflow_ids:
        graph = store.graph(workflow_id)
        broken = core.violations(graph, [n.name for n in graph])
        assert broken == [], f"{workflow_id}: {broken}"


def child_of(store: Store, workflow_id: str, node_name: str = "shot") -> str:
    found = store.node_children(workflow_id, [node_name])
    assert node_name in found, f"{node_name} has no child"
    return found[node_name].child_id
