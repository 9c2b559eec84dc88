from __future__ import annotations

from typing import Any

import pytest


def task(name: str, **params: Any) -> dict[str, Any]:
    return {"name": name, "kind": "task", "commands": [["true"]], **params}


def doc(*nodes: dict[str, Any], edges: list[Any] | None = None, **top: Any) -> dict[str, Any]:
    return {"schema": 1, "name": "wf", "nodes": list(nodes), "edges": edges or [], **top}


@pytest.fixture
def sample() -> dict[str, Any]:
    return doc(
        task("simulate"),
        task("render", frames="1-100", chunk_size=10, commands=[["r", "{start}", "{end}"]]),
        {"name": "notify", "kind": "email", "addresses": ["a@b.c"]},
        edges=[["simulate", "render"], ["render", "notify"]],
    )
