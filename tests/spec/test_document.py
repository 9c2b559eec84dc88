from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stormflow.core.statuses import Status
from stormflow.spec import (
    DocumentError,
    Workflow,
    dump_document,
    load_document,
    parse_document,
    to_json,
    to_yaml,
)

YAML = """
schema: 1
name: shot010_render
metadata: {project: slinky, shot: sh010, owner: alice}
nodes:
  - name: simulate
    kind: task
    commands: [["python", "sim.py", "--out", "cache/"], "echo shell line"]
    env: {KEY: value}
    instance_type: cpu-8
    retries: 2
    limits: [houdini_license]
  - name: render
    kind: task
    status: holding
    frames: "1-100"
    chunk_size: 10
    scout: "1,50,100"
    commands: [["render", "--start", "{start}", "--end", "{end}"]]
  - name: notify
    kind: email
    addresses: [a@b.c]
edges:
  - [simulate, render]
  - {from: render, to: notify, mode: all}
"""


def test_yaml_document_parses_into_nodes_and_edges() -> None:
    document = parse_document(YAML)
    assert document.name == "shot010_render"
    assert [n.name for n in document.nodes] == ["simulate", "render", "notify"]
    assert document.node("render").status is Status.HOLDING
    assert document.node("simulate").params["retries"] == 2
    assert [(e.upstream, e.downstream, e.mode) for e in document.edges] == [
        ("simulate", "render", None),
        ("render", "notify", "all"),
    ]


def test_json_and_yaml_give_the_same_document() -> None:
    data = yaml.safe_load(YAML)
    assert parse_document(json.dumps(data)) == parse_document(YAML)


def test_builder_gives_the_same_document_as_yaml() -> None:
    wf = Workflow(
        "shot010_render", metadata={"project": "slinky", "shot": "sh010", "owner": "alice"}
    )
    sim = wf.task(
        "simulate",
        [["python", "sim.py", "--out", "cache/"], "echo shell line"],
        env={"KEY": "value"},
        instance_type="cpu-8",
        retries=2,
        limits=["houdini_license"],
    )
    render = wf.task(
        "render",
        [["render", "--start", "{start}", "--end", "{end}"]],
        status="holding",
        frames="1-100",
        chunk_size=10,
        scout="1,50,100",
    )
    notify = wf.email("notify", ["a@b.c"])
    sim >> render
    wf.edge(render, notify, mode="all")
    assert wf.document() == parse_document(YAML)


def test_dump_round_trips_through_yaml_and_json() -> None:
    document = parse_document(YAML)
    assert parse_document(to_yaml(document)) == document
    assert parse_document(to_json(document)) == document
    assert parse_document(dump_document(document)) == document


def test_scout_list_and_int_frames_are_normalised_to_strings() -> None:
    document = parse_document(
        {"name": "w", "nodes": [{"name": "r", "commands": ["x"], "frames": 5, "scout": [5]}]}
    )
    assert document.node("r").params["frames"] == "5"
    assert document.node("r").params["scout"] == "5"


def test_yaml_dates_stay_strings() -> None:
    document = parse_document("name: w\nmetadata: {due: 2024-01-01}\nnodes: []\n")
    assert document.metadata == {"due": "2024-01-01"}


def test_syntax_error_is_an_entry_with_a_line() -> None:
    with pytest.raises(DocumentError) as info:
        parse_document("name: w\nnodes: [\n  - a: b\n")
    assert info.value.entries[0].code == "syntax"
    assert info.value.entries[0].line is not None


def test_strict_loader_raises_document_error_with_every_entry(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: 1bad\nnodes:\n  - {name: a, kind: tsk}\n")
    with pytest.raises(DocumentError) as info:
        load_document(path)
    assert {"bad-name", "unknown-kind"} <= {e.code for e in info.value.entries}
    assert str(path) in str(info.value)


def test_missing_file_is_a_document_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError) as info:
        load_document(tmp_path / "nope.yaml")
    assert info.value.entries[0].code == "unreadable-file"


def test_entries_carry_the_line_of_their_node() -> None:
    with pytest.raises(DocumentError) as info:
        parse_document("name: w\nnodes:\n  - name: a\n    comands: [x]\n")
    unknown = next(e for e in info.value.entries if e.code == "unknown-param")
    assert unknown.line == 3


def test_yaml_anchors_work_but_alias_bombs_and_recursion_are_refused() -> None:
    from stormflow.spec.document import MAX_EXPANDED_VALUES, read_text

    data, entries, lines = read_text(
        "name: x\ndefaults: &d {retries: 2}\nnodes:\n  - {name: a, <<: *d, commands: [[t]]}\n"
    )
    assert entries == [] and data == {
        "name": "x",
        "defaults": {"retries": 2},
        "nodes": [{"retries": 2, "name": "a", "commands": [["t"]]}],
    }
    assert lines == {"a": 4}
    levels = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9)
    )  # 10^10 values once expanded, 100 lines of text
    data, entries, _ = read_text(levels)
    assert data is None and f"{MAX_EXPANDED_VALUES:,}" in entries[0].message
    data, entries, _ = read_text("a: &a [1, *a]\n")
    assert data is None and "refers to a node that contains it" in entries[0].message


@pytest.mark.parametrize("depth", [150, 400, 5000])
def test_deep_nesting_is_refused_in_our_words(depth: int) -> None:
    from stormflow.spec.document import read_text

    for text in ("a: " + "[" * depth + "]" * depth, "a: " + "{b: " * depth + "1" + "}" * depth):
        data, entries, _ = read_text(text)
        assert data is None
        assert [e.message for e in entries] == [
            "cannot parse the document: it nests lists and mappings more than 100 levels deep"
        ]


def test_nesting_a_document_needs_is_fine() -> None:
    from stormflow.spec.document import read_text

    data, entries, _ = read_text("a: " + "[" * 90 + "]" * 90)
    assert entries == [] and isinstance(data, dict)
