"""Hard limits (issue 11, finding 4): too many nodes or edges, too deep, too long are errors
naming the limit and how to raise it; a workflow of 1,000,000 frames is refused at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from stormflow.spec import limits, validate


@pytest.fixture(autouse=True)
def restore_limits() -> Iterator[None]:
    before = limits.current()
    yield
    limits.configure(**before.__dict__)


def doc(*nodes: dict[str, Any], edges: list[Any] | None = None) -> dict[str, Any]:
    return {"schema": 1, "name": "w", "nodes": list(nodes), "edges": edges or []}


def errors(document: dict[str, Any]) -> dict[str, str]:
    return {e.code: e.message for e in validate(document) if e.severity == "error"}


def test_a_million_frames_is_an_error_naming_the_limit_and_how_to_raise_it() -> None:
    began = time.monotonic()
    found = errors(doc({"name": "r", "frames": "1-1000000", "commands": [["true"]]}))
    assert time.monotonic() - began < 30  # refused without expanding anything
    message = found["too-many-nodes"]
    assert "1000000 nodes" in message and "200000" in message
    assert "--max-nodes" in message and "STORM_MAX_NODES" in message


def test_the_node_limit_counts_every_chunk_and_can_be_raised() -> None:
    big = doc(
        {"name": "a", "commands": [["true"]]},
        {"name": "r", "frames": "1-200000", "commands": [["true"]]},
    )
    assert "too-many-nodes" in errors(big)  # 200,001 > 200,000
    limits.configure(max_nodes=200_001)
    assert "too-many-nodes" not in errors(big)
    chunked = doc({"name": "r", "frames": "1-1000000", "chunk_size": 10, "commands": [["true"]]})
    assert "too-many-nodes" not in errors(chunked)  # 100,000 chunks


def test_edges_of_mode_all_are_counted_before_they_are_made() -> None:
    frames = {"frames": "1-2000", "commands": [["true"]]}
    every = doc(
        {"name": "a", **frames},
        {"name": "b", **frames},
        edges=[{"from": "a", "to": "b", "mode": "all"}],
    )
    message = errors(every)["too-many-edges"]
    assert "4000000 edges" in message and "--max-edges" in message
    by_frames = doc({"name": "a", **frames}, {"name": "b", **frames}, edges=[["a", "b"]])
    assert "too-many-edges" not in errors(by_frames)


def test_nesting_and_string_sizes_are_bounded() -> None:
    deep: Any = "x"
    for _ in range(40):
        deep = [deep]
    nested = doc({"name": "a", "commands": [["true"]]})
    nested["metadata"] = {"deep": deep}
    assert "STORM_MAX_DEPTH" in errors(nested)["too-deep"]
    long = doc({"name": "a", "commands": [["echo", "x" * 100_001]]})
    assert "100001 characters" in errors(long)["string-too-long"]
    limits.configure(max_string=200_000, max_depth=64)
    assert errors(long) == {} and errors(nested) == {}


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORM_MAX_NODES", "10")
    monkeypatch.setenv("STORM_MAX_EDGES", "nonsense")  # ignored: the default stays
    read = limits.Limits.from_env()
    assert read.max_nodes == 10 and read.max_edges == limits.Limits().max_edges
