"""`workflow` nodes: templates resolved from files, stored names and inline documents;
recursion and depth refused; for_each from lists, CSV and JSON files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from stormflow.kinds import get_kind, runs
from stormflow.spec import DocumentError, expand, limits, validate
from stormflow.spec.params import instantiate
from stormflow.spec.templates import child_document, resolve, resolve_checked

SHOT = {
    "name": "shot-${shot}",
    "params": {"shot": {"type": "string"}, "frames": {"type": "frames", "default": "1-4"}},
    "nodes": [
        {"name": "render", "commands": [["echo", "${shot}", "{start}"]], "frames": "${frames}"},
        {"name": "comp", "commands": [["echo", "comp"]]},
    ],
    "edges": [["render", "comp"]],
}


def sequence(**node: Any) -> dict[str, Any]:
    return {
        "name": "seq",
        "nodes": [
            {"name": "prep", "commands": [["echo", "prep"]]},
            {"name": "shots", "kind": "workflow", **node},
            {"name": "edit", "commands": [["echo", "edit"]]},
        ],
        "edges": [["prep", "shots"], ["shots", "edit"]],
    }


def write(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data) if path.suffix != ".json" else json.dumps(data))
    return path


def errors(entries: list[Any]) -> list[str]:
    return [e.message for e in entries if e.severity == "error"]


def test_the_kind_waits_and_is_built_in() -> None:
    kind = get_kind("workflow")
    assert kind is not None and runs("workflow") == "wait"
    assert set(kind.params) >= {"template", "params", "for_each", "key"}


def test_a_file_template_is_inlined_and_the_config_is_self_contained(tmp_path: Path) -> None:
    write(tmp_path / "shot.yaml", SHOT)
    doc = resolve(sequence(template="shot.yaml", params={"shot": "sh010"}), base_dir=tmp_path)
    assert doc["nodes"][1]["template"] == SHOT
    assert errors(validate(doc)) == []
    node = expand(doc).groups()["shots"][0]
    assert node.name == "shots" and node.kind == "workflow"
    child = instantiate(node.config["template"], node.config["params"])
    assert child["name"] == "shot-sh010"
    assert [n.name for n in expand(child).nodes] == [
        "render.1",
        "render.2",
        "render.3",
        "render.4",
        "comp",
    ]


def test_a_stored_template_is_found_by_name() -> None:
    stored = {"shot": SHOT}
    doc = resolve(sequence(template="shot", params={"shot": "a"}), lookup=stored.get)
    assert doc["nodes"][1]["template"] == SHOT
    with pytest.raises(DocumentError, match="no stored template named 'shoot'"):
        resolve(sequence(template="shoot"), lookup=stored.get)
    # a client leaves names to the server; a server refuses files
    assert resolve(sequence(template="shot"), strict=False)["nodes"][1]["template"] == "shot"
    with pytest.raises(DocumentError, match="is a file: files are read where the document is"):
        resolve(sequence(template="../../etc/passwd.yaml"), lookup=stored.get)


def test_child_entries_are_shown_under_the_parent_node() -> None:
    doc = sequence(template=SHOT, params={"shot": "sh010", "frames": "1-x"})
    assert any(
        m.startswith("shots > param 'frames' must be a frame spec") for m in errors(validate(doc))
    )
    missing = errors(validate(sequence(template=SHOT)))
    assert any(m.startswith("shots > param 'shot'") and "no value" in m for m in missing)
    broken = {**SHOT, "edges": [["render", "nowhere"]]}
    entries = validate(sequence(template=broken, params={"shot": "a"}))
    bad = next(e for e in entries if "unknown node 'nowhere'" in e.message)
    assert bad.message.startswith("shots > ") and bad.nodes == ("shots",)


def test_an_unresolved_template_is_never_planned() -> None:
    assert "is a file that was not read" in errors(validate(sequence(template="shot.yaml")))[0]
    entries = validate(sequence(template="shot"))  # the server resolves names
    assert errors(entries) == [] and entries[0].code == "stored-template"
    with pytest.raises(DocumentError, match="must be resolved to a document"):
        expand(sequence(template="shot"))


def test_a_template_including_itself_is_refused_at_any_depth(tmp_path: Path) -> None:
    write(
        tmp_path / "a.yaml",
        {"name": "a", "nodes": [{"name": "b", "kind": "workflow", "template": "b.yaml"}]},
    )
    write(
        tmp_path / "b.yaml",
        {"name": "b", "nodes": [{"name": "c", "kind": "workflow", "template": "sub/c.yaml"}]},
    )
    (tmp_path / "sub").mkdir()
    write(
        tmp_path / "sub" / "c.yaml",
        {"name": "c", "nodes": [{"name": "a", "kind": "workflow", "template": "../a.yaml"}]},
    )
    top = yaml.safe_load((tmp_path / "a.yaml").read_text())
    _doc, entries = resolve_checked(top, base_dir=tmp_path, source=f"file:{tmp_path / 'a.yaml'}")
    assert [e.code for e in entries] == ["template-recursion"]
    assert (
        "template '../a.yaml' includes itself (a.yaml > b.yaml > c.yaml > a.yaml)"
        in entries[0].message
    )
    assert entries[0].nodes == ("b",)
    stored = {
        "loop": {
            "name": "loop",
            "nodes": [{"name": "again", "kind": "workflow", "template": "loop"}],
        }
    }
    with pytest.raises(DocumentError, match="includes itself"):
        resolve(sequence(template="loop"), lookup=stored.get)


def nested(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": "leaf", "nodes": [{"name": "t", "commands": ["true"]}]}
    for level in range(depth):
        doc = {"name": f"l{level}", "nodes": [{"name": "sub", "kind": "workflow", "template": doc}]}
    return doc


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    assert errors(validate(nested(8))) == []
    deep = errors(validate(nested(9)))
    assert any(
        "sub-workflows nest more than 8 deep" in m and "STORM_MAX_WORKFLOW_DEPTH" in m for m in deep
    )
    assert resolve_checked(nested(9))[1][0].code == "workflow-too-deep"
    limits.configure(max_workflow_depth=2)
    try:
        assert any("more than 2 deep" in m for m in errors(validate(nested(3))))
    finally:
        limits.configure(max_workflow_depth=8)


def test_for_each_over_an_inline_list_makes_one_node_per_item() -> None:
    doc = sequence(
        template=SHOT,
        params={"frames": "1-2"},
        for_each=[{"shot": "sh010"}, {"shot": "sh020", "frames": "5-6"}, {"shot": "sh030"}],
        key="shot",
    )
    assert errors(validate(doc)) == []
    plan = expand(doc)
    names = [n.name for n in plan.nodes]
    assert names == ["prep", "shots.sh010", "shots.sh020", "shots.sh030", "edit"]
    assert ("prep", "shots.sh020") in plan.edges and ("shots.sh030", "edit") in plan.edges
    assert len(plan.edges) == 6
    shot = plan.groups()["shots"][1]
    assert shot.group == "shots" and shot.config["params"] == {"frames": "5-6", "shot": "sh020"}
    assert "for_each" not in shot.config and "key" not in shot.config
    assert instantiate(shot.config["template"], shot.config["params"])["name"] == "shot-sh020"


def test_for_each_from_csv_and_json_files(tmp_path: Path) -> None:
    (tmp_path / "shots.csv").write_text("shot,frames\nsh010,1-10\nsh020,11-20\n\n")
    write(tmp_path / "shots.json", [{"shot": "sh030", "frames": 7}])
    for name, expected in (("shots.csv", ["sh010", "sh020"]), ("shots.json", ["sh030"])):
        doc = resolve(sequence(template=SHOT, for_each=name, key="shot"), base_dir=tmp_path)
        assert errors(validate(doc)) == []
        assert [n.name for n in expand(doc).groups()["shots"]] == [f"shots.{s}" for s in expected]


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"for_each": [{"shot": "a"}]}, "for_each needs key"),
        ({"for_each": [], "key": "shot"}, "for_each has no items"),
        ({"for_each": [{"shot": "a b"}], "key": "shot"}, "for_each[0] needs 'shot'"),
        (
            {"for_each": [{"shot": "a"}, {"shot": "a"}], "key": "shot"},
            "two for_each items have shot 'a'",
        ),
        (
            {"for_each": [{"shot": "a", "frames": "x"}], "key": "shot"},
            "shots.a > param 'frames' must be a frame spec",
        ),
        ({"for_each": "shots.csv", "key": "shot"}, "for_each 'shots.csv' is not resolved"),
        ({"for_each": [["a"]], "key": "shot"}, "for_each must be a list of param sets"),
        ({"key": "shot"}, "it has no for_each"),
    ],
)
def test_bad_for_each(node: dict[str, Any], expected: str) -> None:
    found = errors(validate(sequence(template=SHOT, **node)))
    assert any(expected in m for m in found), found


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "the file is empty"),
        ("shot,shot\na,b\n", "the header row must name each column once"),
        ("shot\na,b\n", "line 2 has 2 cells"),
    ],
)
def test_bad_csv_files(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "shots.csv").write_text(content)
    with pytest.raises(DocumentError, match=expected):
        resolve(sequence(template=SHOT, for_each="shots.csv", key="shot"), base_dir=tmp_path)


def test_missing_and_malformed_list_files(tmp_path: Path) -> None:
    (tmp_path / "shots.json").write_text('{"shot": "a"}')
    with pytest.raises(DocumentError, match="a list of mappings"):
        resolve(sequence(template=SHOT, for_each="shots.json", key="shot"), base_dir=tmp_path)
    with pytest.raises(DocumentError, match="file not found"):
        resolve(sequence(template=SHOT, for_each="nope.csv", key="shot"), base_dir=tmp_path)
    with pytest.raises(DocumentError, match=r"template 'nope\.yaml': file not found"):
        resolve(sequence(template="nope.yaml"), base_dir=tmp_path)


def test_for_each_counts_toward_the_node_limit() -> None:
    items = [{"shot": f"s{i}"} for i in range(30)]
    limits.configure(max_nodes=20)
    try:
        found = errors(validate(sequence(template=SHOT, for_each=items, key="shot")))
    finally:
        limits.configure(max_nodes=200_000)
    assert any("expands to 32 nodes" in m for m in found)


def test_child_document_from_a_stored_config() -> None:
    config = expand(sequence(template=SHOT, params={"shot": "sh010"})).groups()["shots"][0].config
    child = child_document(config)
    assert child["name"] == "shot-sh010" and "params" not in child
    with pytest.raises(DocumentError, match="param 'frames' must be a frame spec"):
        child_document({**config, "params": {"shot": "a", "frames": "x"}})
    with pytest.raises(DocumentError, match="must be a resolved document"):
        child_document({"template": "shot"})
    broken = {**SHOT, "edges": [["render", "nowhere"]]}
    with pytest.raises(DocumentError, match="unknown node 'nowhere'"):
        child_document({"template": broken, "params": {"shot": "a"}})
