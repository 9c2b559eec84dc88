"""One test per validation rule; each fixer must make its entry go away."""

from __future__ import annotations

from typing import Any

import pytest

from stormflow.spec import Severity, validate

from .conftest import doc, task
from .helpers import codes, entry, fix


def email(name: str, **params: Any) -> dict[str, Any]:
    return {"name": name, "kind": "email", **params}


def test_valid_document_has_no_entries(sample: dict[str, Any]) -> None:
    assert validate(sample) == []


def test_cycle_is_named_in_order_and_fixed_by_dropping_the_closing_edge() -> None:
    data = doc(task("a"), task("b"), task("c"), edges=[["a", "b"], ["b", "c"], ["c", "a"]])
    cycle = entry(data, "cycle")
    assert cycle.message == "the edges a -> b -> c -> a form a cycle"  # not "cycle: cycle: ..."
    assert cycle.nodes == ("a", "b", "c")
    assert cycle.fixers[0].name == "drop-edge:c:a"
    assert "cycle" not in codes(fix(data, "cycle"))


def test_edge_to_unknown_node_is_dropped_by_its_fixer() -> None:
    data = doc(task("render"), edges=[["render", "comp"]])
    found = entry(data, "unknown-edge-node")
    assert "'comp'" in found.message
    assert validate(fix(data, "unknown-edge-node")) == []


def test_unknown_edge_node_suggests_a_close_name() -> None:
    data = doc(task("render"), task("comp"), edges=[["rendr", "comp"]])
    assert "did you mean 'render'" in entry(data, "unknown-edge-node").message


def test_duplicate_names_are_renamed_to_free_names() -> None:
    data = doc(task("a"), task("a"), task("a_2"))
    found = entry(data, "duplicate-name")
    assert found.fixers[0].name == "rename-duplicate:a"
    fixed = fix(data, "duplicate-name")
    assert [n["name"] for n in fixed["nodes"]] == ["a", "a_3", "a_2"]
    assert validate(fixed) == []


def test_bad_node_name_is_renamed_with_its_edges() -> None:
    data = doc(task("my render"), task("b"), edges=[["my render", "b"]])
    found = entry(data, "bad-node-name")
    assert found.fixers[0].name == "rename:my render:my_render"
    assert validate(fix(data, "bad-node-name")) == []


def test_node_name_must_start_with_a_letter() -> None:
    fixed = fix(doc(task("1st")), "bad-node-name")
    assert fixed["nodes"][0]["name"] == "n_1st"


def test_missing_node_name() -> None:
    data = doc({"kind": "task", "commands": ["x"]})
    assert validate(fix(data, "missing-node-name")) == []


def test_bad_workflow_name_is_sanitised() -> None:
    data = doc(task("a"), name="shot 010!")
    assert validate(fix(data, "bad-name")) == []


def test_unknown_schema_version_is_an_error() -> None:
    assert validate(fix(doc(task("a"), schema=2), "unknown-schema")) == []


def test_bad_frame_spec() -> None:
    found = entry(doc(task("r", frames="1-x")), "bad-frames")
    assert found.nodes == ("r",) and found.field == "frames"
    assert found.message == (
        "node 'r': frame spec '1-x' is not a frame range; "
        "write frames like 1-100, 1-100x2 (every 2nd frame), 1-10,20-30 or 5"
    )  # in our words, not the library's (which ended with a space)


def test_bad_piece_of_a_frame_list_is_named() -> None:
    found = entry(doc(task("r", frames="1-10, 20-y")), "bad-frames")
    assert "frame spec '1-10, 20-y': '20-y' is not a frame range; write" in found.message


@pytest.mark.parametrize("frames", ["", "1.5-3", "1-100000000", "abc", "1-10#"])
def test_frame_specs_that_are_not_whole_frames_are_errors(frames: str) -> None:
    assert "bad-frames" in codes(doc(task("r", frames=frames)))


def test_scout_frames_outside_the_range_are_dropped_by_the_fixer() -> None:
    data = doc(task("r", frames="1-10", scout="1,50"))
    found = entry(data, "scout-outside-range")
    assert "50" in found.message
    fixed = fix(data, "scout-outside-range")
    assert fixed["nodes"][0]["scout"] == "1"
    assert validate(fixed) == []


def test_bad_scout_spec_is_dropped() -> None:
    assert validate(fix(doc(task("r", frames="1-10", scout="x")), "bad-scout")) == []


def test_chunk_size_larger_than_the_range_is_clamped() -> None:
    data = doc(task("r", frames="1-5", chunk_size=10))
    assert entry(data, "chunk-size-too-large").severity is Severity.WARNING
    fixed = fix(data, "chunk-size-too-large")
    assert fixed["nodes"][0]["chunk_size"] == 5
    assert validate(fixed) == []


def test_chunk_size_below_one_is_an_error() -> None:
    data = doc(task("r", frames="1-5", chunk_size=0))
    assert validate(fix(data, "bad-chunk-size")) == []


def test_chunk_size_without_frames_has_no_effect() -> None:
    assert validate(fix(doc(task("r", chunk_size=4)), "needs-frames")) == []


def test_empty_commands_are_an_error() -> None:
    assert "empty-commands" in codes(doc(task("a", commands=[])))
    assert "empty-commands" in codes(doc(task("a", commands=["", []])))


def test_empty_commands_among_others_are_dropped_by_the_fixer() -> None:
    assert validate(fix(doc(task("a", commands=["x", ""])), "empty-commands")) == []


def test_unknown_kind_suggests_the_closest() -> None:
    data = doc({"name": "a", "kind": "tsak", "commands": ["x"]})
    found = entry(data, "unknown-kind")
    assert "did you mean 'task'" in found.message
    assert validate(fix(data, "unknown-kind")) == []


def test_unknown_parameter_can_be_renamed_to_the_suggestion() -> None:
    data = doc(task("r", frames="1-10", chunksize=5))
    found = entry(data, "unknown-param")
    assert "did you mean 'chunk_size'" in found.message
    assert [f.name for f in found.fixers] == [
        "rename-param:r:chunksize:chunk_size",
        "drop-param:r:chunksize",
    ]
    renamed = fix(data, "unknown-param", "rename-param")
    assert renamed["nodes"][0]["chunk_size"] == 5
    assert validate(renamed) == []


def test_unknown_parameter_can_be_dropped() -> None:
    data = doc(task("r", colour="red"))
    assert validate(fix(data, "unknown-param", "drop-param")) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("retries", "2"),
        ("retries", -1),
        ("env", {"A": 1}),
        ("commands", "x"),
        ("limits", "l"),
        ("retry_delay", "abc"),
        ("retry_delay", -1),
        ("retry_delay", float("inf")),
    ],
)
def test_wrong_types_for_known_parameters(key: str, value: Any) -> None:
    found = entry(doc(task("a", **{key: value})), "bad-param-type")
    assert found.field == key and "'a'" in found.message


def test_retry_delay_is_a_parameter_of_tasks_and_emails() -> None:
    """The README lists it and the core reads it: a document may set it."""
    data = doc(
        task("a", retries=2, retry_delay=0.5), email("b", addresses=["x@y.z"], retry_delay=3)
    )
    assert validate(data) == []


def test_email_without_addresses_is_missing_a_parameter() -> None:
    found = entry(doc(email("notify")), "missing-param")
    assert found.field == "addresses"
    assert "missing-param" in codes(doc(email("notify", addresses=[])))


def test_email_addresses_must_look_like_addresses() -> None:
    assert "bad-address" in codes(doc(email("n", addresses=["nobody"])))


def test_unknown_token_in_email_text_is_a_warning() -> None:
    found = entry(doc(email("n", addresses=["a@b.c"], subject="${workflow_name}")), "unknown-token")
    assert "did you mean '${workflow-name}'" in found.message


def test_frame_tokens_need_frames() -> None:
    assert "frame-token-without-frames" in codes(doc(task("a", commands=[["r", "{start}"]])))


def test_start_end_over_gappy_ranges_warns() -> None:
    data = doc(task("r", frames="1-10,20-30", commands=[["r", "{start}", "{end}"]]))
    assert "chunk-spans-gaps" in codes(data)


def test_bad_status() -> None:
    data = doc(task("a", status="running"))
    assert validate(fix(data, "bad-status")) == []


def test_too_many_tasks_after_expansion_is_a_warning() -> None:
    found = entry(doc(task("r", frames="1-100001")), "too-many-tasks")
    assert found.severity is Severity.WARNING


def test_self_edge_is_dropped() -> None:
    data = doc(task("a"), edges=[["a", "a"]])
    assert validate(fix(data, "self-edge")) == []


def test_duplicate_edges_are_a_warning_fixed_by_dedupe() -> None:
    data = doc(task("a"), task("b"), edges=[["a", "b"], {"from": "a", "to": "b"}])
    found = entry(data, "duplicate-edge")
    assert found.severity is Severity.WARNING
    assert found.fixers[0].name == "dedupe-edges"
    assert validate(fix(data, "duplicate-edge")) == []


def test_bad_edge_mode() -> None:
    data = doc(task("a"), task("b"), edges=[{"from": "a", "to": "b", "mode": "chunk"}])
    assert validate(fix(data, "bad-edge-mode")) == []


def test_malformed_edges_and_nodes_are_dropped() -> None:
    data = doc(task("a"), 5, edges=[["a"], "a->b"])
    fixed = fix(fix(fix(data, "bad-node"), "bad-edge"), "bad-edge")
    assert validate(fixed) == []


def test_unknown_top_level_field_suggests_the_closest() -> None:
    data = doc(task("a"), task("b"))
    data["edgse"] = [["a", "b"]]
    del data["edges"]
    found = entry(data, "unknown-field")
    assert "did you mean 'edges'" in found.message
    assert validate(fix(data, "unknown-field", "rename-field")) == []


def test_document_must_be_a_mapping() -> None:
    assert codes([1, 2]) == ["not-a-mapping"]


def test_fixers_never_mutate_their_input() -> None:
    data = doc(task("a"), edges=[["a", "ghost"]])
    snapshot = repr(data)
    fix(data, "unknown-edge-node")
    assert repr(data) == snapshot
