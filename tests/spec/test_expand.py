from __future__ import annotations

import time
from typing import Any

from stormflow.core.statuses import Status
from stormflow.spec import Workflow, expand, render_commands, render_text
from stormflow.spec.expand import overlapping

from .conftest import doc, task


def names(data: dict[str, Any]) -> list[str]:
    return [n.name for n in expand(data).nodes]


def test_plain_node_is_one_planned_node_with_defaults_in_its_config() -> None:
    (node,) = expand(doc(task("a", retries=3))).nodes
    assert (node.name, node.kind, node.status, node.group, node.frames) == (
        "a",
        "task",
        Status.OPEN,
        None,
        None,
    )
    assert node.config == {"env": {}, "retries": 3, "commands": [["true"]]}


def test_frame_range_expands_into_named_chunks() -> None:
    assert names(doc(task("render", frames="1-25", chunk_size=10))) == [
        "render.1-10",
        "render.11-20",
        "render.21-25",
    ]


def test_single_frame_chunks_are_named_by_the_frame() -> None:
    assert names(doc(task("r", frames="4-6"))) == ["r.4", "r.5", "r.6"]


def test_step_ranges_chunk_in_frame_order_and_keep_the_step() -> None:
    plan = expand(doc(task("r", frames="1-20x2", chunk_size=5)))
    assert [n.frames for n in plan.nodes] == ["1-9x2", "11-19x2"]
    assert plan.nodes[0].config["step"] == 2


def test_negative_frames() -> None:
    assert names(doc(task("r", frames="-5-5", chunk_size=4))) == ["r.-5--2", "r.-1-2", "r.3-5"]


def test_chunks_cross_gaps_in_frame_order() -> None:
    assert names(doc(task("r", frames="1-3,10-12", chunk_size=4))) == ["r.1-3,10", "r.11-12"]


def test_chunk_config_holds_its_frames_and_the_command_templates() -> None:
    node = expand(doc(task("r", frames="1-10", chunk_size=5, commands=[["x", "{start}"]]))).nodes[1]
    assert node.group == "r"
    assert node.config["frames"] == "6-10"
    assert node.config["commands"] == [["x", "{start}"]]
    assert "chunk_size" not in node.config


def test_scout_chunks_start_open_and_the_others_holding() -> None:
    plan = expand(doc(task("r", frames="1-100", chunk_size=10, scout="1,50,100")))
    open_chunks = [n.name for n in plan.nodes if n.status is Status.OPEN]
    assert open_chunks == ["r.1-10", "r.41-50", "r.91-100"]
    assert sum(n.status is Status.HOLDING for n in plan.nodes) == 7


def test_without_scout_every_chunk_takes_the_authored_status() -> None:
    plan = expand(doc(task("r", frames="1-4", chunk_size=2, status="holding")))
    assert {n.status for n in plan.nodes} == {Status.HOLDING}


def test_frames_mode_links_overlapping_chunks_only() -> None:
    data = doc(
        task("render", frames="1-20", chunk_size=10),
        task("comp", frames="1-20", chunk_size=5),
        edges=[["render", "comp"]],
    )
    assert expand(data).edges == [
        ("render.1-10", "comp.1-5"),
        ("render.1-10", "comp.6-10"),
        ("render.11-20", "comp.11-15"),
        ("render.11-20", "comp.16-20"),
    ]


def test_frames_mode_with_offset_chunks_links_every_overlap() -> None:
    data = doc(
        task("a", frames="1-9", chunk_size=3),
        task("b", frames="2-9", chunk_size=4),
        edges=[{"from": "a", "to": "b", "mode": "frames"}],
    )
    assert expand(data).edges == [
        ("a.1-3", "b.2-5"),
        ("a.4-6", "b.2-5"),
        ("a.4-6", "b.6-9"),
        ("a.7-9", "b.6-9"),
    ]


def test_all_mode_links_every_chunk_to_every_chunk() -> None:
    data = doc(
        task("a", frames="1-4", chunk_size=2),
        task("b", frames="1-4", chunk_size=2),
        edges=[{"from": "a", "to": "b", "mode": "all"}],
    )
    assert len(expand(data).edges) == 4


def test_plain_to_ranged_and_ranged_to_plain_link_all_chunks() -> None:
    data = doc(
        task("sim"),
        task("r", frames="1-4", chunk_size=2),
        task("enc"),
        edges=[["sim", "r"], ["r", "enc"]],
    )
    assert expand(data).edges == [
        ("sim", "r.1-2"),
        ("sim", "r.3-4"),
        ("r.1-2", "enc"),
        ("r.3-4", "enc"),
    ]


def test_duplicate_edges_expand_once() -> None:
    data = doc(task("a"), task("b"), edges=[["a", "b"], ["a", "b"]])
    assert expand(data).edges == [("a", "b")]


def test_render_commands_fills_frame_tokens_from_the_chunk() -> None:
    config = {
        "frames": "11-20x2",
        "step": 2,
        "commands": [["r", "{start}", "{end}", "{step}"], "x {chunk} {frames}"],
    }
    assert render_commands(config) == [["r", "11", "19", "2"], "x 11-19x2 11,13,15,17,19"]


def test_render_commands_fills_text_tokens_and_leaves_shell_variables() -> None:
    config = {"commands": ["echo ${workflow-name} ${HOME} {}"]}
    assert render_commands(config, {"workflow-name": "wf"}) == ["echo wf ${HOME} {}"]


def test_render_text_fills_known_tokens() -> None:
    tokens = {"workflow-id": "42", "workflow-name": "wf", "node-name": "n", "status": "succeeded"}
    text = "Workflow ${workflow-id} ${workflow-name} node ${node-name} finished with ${status}"
    assert render_text(text, tokens) == "Workflow 42 wf node n finished with succeeded"


def test_overlap_sweep_matches_all_pairs() -> None:
    ups = [(1, 4), (5, 8), (9, 9), (2, 20)]
    downs = [(4, 5), (10, 12), (0, 1)]
    brute = sorted(
        (i, j)
        for i, (a, b) in enumerate(ups)
        for j, (c, d) in enumerate(downs)
        if a <= d and c <= b
    )
    assert overlapping(ups, downs) == brute


def test_100000_chunk_expansion_is_fast() -> None:
    wf = Workflow("big")
    a = wf.task("a", ["true"], frames="1-100000")
    b = wf.task("b", ["true"], frames="1-100000", chunk_size=2)
    a >> b
    started = time.perf_counter()
    plan = wf.expand()
    assert len(plan.nodes) == 150_000
    assert len(plan.edges) == 100_000
    # Generous bound: all-pairs linking would take hours here.
    assert time.perf_counter() - started < 30


def test_retry_delay_of_a_document_spaces_the_automatic_retries() -> None:
    from stormflow import core

    plan = expand(
        {
            "schema": 1,
            "name": "w",
            "nodes": [{"name": "a", "commands": [["false"]], "retries": 2, "retry_delay": 7}],
        }
    )
    assert plan.nodes[0].config["retry_delay"] == 7
    graph = core.Graph.build([("a", "open", plan.nodes[0].config)], [])
    graph.apply(core.run(graph, "a", at=100.0))
    for failed, delay in ((1, 7.0), (2, 14.0)):
        token = graph.node("a").live_token
        assert token is not None
        graph.apply(core.fail(graph, "a", token, at=200.0, error="x"))
        retry = graph.node("a").attempt
        assert retry is not None and retry.number == failed + 1
        assert retry.not_before == 200.0 + delay
