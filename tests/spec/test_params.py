"""Template params: declarations, values from --set/API/CSV, substitution, validation."""

from __future__ import annotations

from typing import Any

import pytest

from stormflow.spec import DocumentError, expand, parse_document, validate
from stormflow.spec.params import (
    declarations,
    instantiate,
    parse_assignments,
    uses,
)


def template(**params: Any) -> dict[str, Any]:
    return {
        "name": "shot-${shot}",
        "params": params
        or {
            "shot": {"type": "string", "description": "the shot"},
            "frames": {"type": "frames", "default": "1-10"},
            "chunk": {"type": "int", "default": 5},
            "quality": {"type": "choice", "choices": ["draft", "final"], "default": "draft"},
            "scene": {"type": "path", "default": "scenes/${shot}.ma"},
        },
        "nodes": [
            {
                "name": "render",
                "commands": [["render", "${shot}", "-q", "${quality}", "{start}", "{end}"]],
                "env": {"WF": "${workflow-name}", "HOME_DIR": "${HOME}"},
                "frames": "${frames}",
                "chunk_size": "${chunk}",
            }
        ],
        "edges": [],
    }


def messages(entries: list[Any]) -> list[str]:
    return [e.message for e in entries if e.severity == "error"]


def test_instantiate_fills_values_defaults_and_keeps_runtime_tokens() -> None:
    doc = instantiate(template(), {"shot": "sh010", "frames": "1001-1100", "chunk": "25"})
    assert "params" not in doc
    assert doc["name"] == "shot-sh010"
    node = doc["nodes"][0]
    assert node["commands"] == [["render", "sh010", "-q", "draft", "{start}", "{end}"]]
    assert node["env"] == {"WF": "${workflow-name}", "HOME_DIR": "${HOME}"}
    assert node["frames"] == "1001-1100"
    assert node["chunk_size"] == 25  # a node's parameter that is one use keeps its type
    as_text = instantiate(
        {**template(), "metadata": {"chunk": "${chunk}"}},
        {"shot": "a", "chunk": 3},
    )
    assert as_text["metadata"] == {"chunk": "3"}  # elsewhere a use is text
    plan = expand(doc)
    assert [n.name for n in plan.nodes][:2] == ["render.1001-1025", "render.1026-1050"]


def test_missing_param_is_an_error_naming_it_and_where_it_is_used() -> None:
    with pytest.raises(DocumentError) as caught:
        instantiate(template(), {})
    message = str(caught.value)
    assert "'shot'" in message and "no value" in message
    assert "name" in message and "nodes[0].commands[0][1]" in message
    assert caught.value.entries[0].field == "params.shot"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"chunk": "ten"}, "param 'chunk' must be a whole number, got a string 'ten'"),
        ({"chunk": True}, "param 'chunk' must be a whole number"),
        ({"frames": "1-x"}, "param 'frames' must be a frame spec"),
        ({"quality": "best"}, "param 'quality' must be one of draft, final, got 'best'"),
        ({"scene": ""}, "param 'scene' must be a path, got an empty string"),
        ({"shot": ["a"]}, "param 'shot' must be a string, got a list"),
        ({"camera": "a"}, "no param named 'camera' is declared"),
    ],
)
def test_ill_typed_or_unknown_values_are_errors(values: dict[str, Any], expected: str) -> None:
    entries = validate(template(), {"shot": "sh010", **values})
    assert any(expected in m for m in messages(entries)), messages(entries)


def test_a_template_validates_with_stand_ins_and_strictly_with_values() -> None:
    assert messages(validate(template())) == []  # `storm validate FILE`: no values needed
    assert "'shot'" in messages(validate(template(), {}))[0]  # `--set` given: all are needed
    assert messages(validate(template(), {"shot": "sh010"})) == []
    # the instance is validated: a value that makes a bad document is reported as such
    bad = validate(template(), {"shot": "sh 010"})
    assert any("workflow name 'shot-sh 010'" in m for m in messages(bad))


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ({"shot": {"type": "float"}}, "type 'float'; types are string, int, frames, path"),
        ({"q": {"type": "choice"}}, "param 'q' (choice) needs 'choices'"),
        ({"n": {"type": "int", "default": "many"}}, "param 'n': default must be a whole number"),
        ({"n": {"type": "int", "dflt": 3}}, "param 'n' has unknown field 'dflt'"),
        ({"status": {"type": "string"}}, "param 'status' is a runtime token"),
        ({"9x": {"type": "string"}}, "param name '9x' must start with a letter"),
    ],
)
def test_bad_declarations_are_errors(declared: dict[str, Any], expected: str) -> None:
    doc = {**template(), "params": declared}
    assert any(expected in m for m in messages(validate(doc))), messages(validate(doc))


def test_params_must_be_a_mapping() -> None:
    doc = {**template(), "params": ["shot"]}
    assert "'params' must be a mapping" in messages(validate(doc))[0]


def test_shorthand_declaration_and_uses() -> None:
    doc = {**template(), "params": {"shot": "string", "frames": "frames", "chunk": "int"}}
    specs, entries = declarations(doc)
    assert not entries and specs["frames"].type == "frames" and specs["shot"].required
    assert uses(doc)["shot"] == ["name", "nodes[0].commands[0][1]"]


def test_a_document_without_params_takes_no_values() -> None:
    doc = instantiate(template(), {"shot": "a"})
    assert instantiate(doc) == doc
    with pytest.raises(DocumentError, match="declares no params, so 'shot' cannot be set"):
        instantiate(doc, {"shot": "a"})


def test_parse_document_uses_defaults_and_names_a_missing_param() -> None:
    declared = template()["params"]
    all_defaults = {
        **template(),
        "params": {**declared, "shot": {"type": "string", "default": "sh999"}},
    }
    assert parse_document(all_defaults).name == "shot-sh999"
    with pytest.raises(DocumentError, match="'shot'"):
        parse_document(template())


def test_substitution_does_not_enter_an_inline_child_template() -> None:
    child = {"name": "c-${shot}", "params": {"shot": "string"}, "nodes": [], "edges": []}
    doc = {
        "name": "seq",
        "params": {"shot": {"type": "string"}},
        "nodes": [
            {"name": "one", "kind": "workflow", "template": child, "params": {"shot": "${shot}"}}
        ],
        "edges": [],
    }
    out = instantiate(doc, {"shot": "sh010"})
    assert out["nodes"][0]["template"] == child
    assert out["nodes"][0]["params"] == {"shot": "sh010"}


def test_assignments() -> None:
    assert parse_assignments(["shot=sh010", "frames=1-10", "note=a=b"]) == {
        "shot": "sh010",
        "frames": "1-10",
        "note": "a=b",
    }
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_assignments(["shot"])
