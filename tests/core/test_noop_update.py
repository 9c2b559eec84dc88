"""Decision: an update whose patch changes nothing is a retry with the given target."""

from __future__ import annotations

from stormflow import core
from stormflow.core import Status

from .helpers import T, chain, do, drive


def test_a_noop_update_of_a_failed_node_is_a_retry_to_its_target() -> None:
    graph = chain("a", "b")
    drive(graph, "a", Status.FAILED)
    out = do(graph, core.update(graph, ["a"], {"cmd": "a"}, at=T, target="holding"))
    assert graph.node("a").status is Status.HOLDING
    assert [e.type for e in out.events if e.node == "a"] == ["retry"]
    assert [s.why for s in out.snapshots] == ["retry"]
    assert graph.node("a").patch == {}
    assert out.ineligible == []


def test_a_noop_update_of_a_start_node_is_refused_as_retry_is() -> None:
    graph = chain("a")
    out = core.update(graph, ["a"], {}, at=T, target="holding")
    assert [(i.node, i.status) for i in out.ineligible] == [("a", Status.OPEN)]
    assert "cannot retry" in out.ineligible[0].reason
    assert out.nodes == {} and out.events == []


def test_a_real_update_of_a_start_node_is_still_allowed() -> None:
    graph = chain("a")
    do(graph, core.update(graph, ["a"], {"cmd": "other"}, at=T, target="holding"))
    assert graph.node("a").status is Status.HOLDING
    assert graph.node("a").current == {"cmd": "other"}


def test_a_selection_mixes_noop_and_real_updates_node_by_node() -> None:
    graph = core.Graph.build([("a", "open", {"x": 1}), ("b", "open", {"x": 2})], [])
    out = core.update(graph, ["a", "b"], {"x": 2}, at=T)
    assert [i.node for i in out.ineligible] == ["b"]  # b already has x = 2: a retry
    assert set(out.nodes) == {"a"}
