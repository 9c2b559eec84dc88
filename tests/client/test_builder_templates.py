"""Params, `workflow` nodes and for_each from both builders: the same document as YAML."""

from __future__ import annotations

import pytest
import yaml

from stormflow import client
from stormflow.spec import DocumentError, Workflow, validate
from stormflow.spec.params import instantiate

SEQUENCE_YAML = """
schema: 1
name: seq-${show}
params:
  show: {type: choice, choices: [abc, xyz], default: abc}
  chunk: {type: int, default: 10, description: frames per chunk}
nodes:
  - name: shots
    kind: workflow
    template: shot
    params: {chunk: "${chunk}"}
    for_each: [{shot: sh010, frames: "1-10"}, {shot: sh020, frames: "11-20"}]
    key: shot
  - name: edit
    kind: task
    commands: [[edit, "${show}"]]
edges:
  - [shots, edit]
"""


def build(wf: client.Workflow | Workflow) -> None:
    show = wf.param("show", "choice", default="abc", choices=["abc", "xyz"])
    chunk = wf.param("chunk", "int", default=10, description="frames per chunk")
    shots = wf.workflow(
        "shots",
        "shot",
        params={"chunk": chunk},
        for_each=[{"shot": "sh010", "frames": "1-10"}, {"shot": "sh020", "frames": "11-20"}],
        key="shot",
    )
    shots >> wf.task("edit", [["edit", show]])


def test_both_builders_make_the_yaml_document() -> None:
    ours, theirs = client.Workflow("seq-${show}"), Workflow("seq-${show}")
    build(ours)
    build(theirs)
    assert ours.to_dict() == theirs.to_dict() == yaml.safe_load(SEQUENCE_YAML)


def test_the_spec_builder_instantiates_and_checks_values() -> None:
    shot = Workflow("shot-${shot}")
    shot.param("shot")
    frames = shot.param("frames", "frames", default="1-4")
    shot.task("render", [["render", "${shot}", "{start}"]], frames=frames)
    assert shot.document({"shot": "sh010"}).name == "shot-sh010"
    assert [n.name for n in shot.expand({"shot": "a", "frames": "1-2"}).nodes] == [
        "render.1",
        "render.2",
    ]
    assert any("param 'shot'" in e.message for e in shot.validate({}))
    with pytest.raises(DocumentError, match="param 'frames' must be a frame spec"):
        shot.instantiate({"shot": "a", "frames": "x"})
    # an inline child template from a builder
    seq = Workflow("seq")
    seq.workflow("one", shot, params={"shot": "sh010"})
    assert validate(seq.to_dict()) == []
    node = seq.expand().nodes[0]
    child = instantiate(node.config["template"], node.config["params"])
    assert child["name"] == "shot-sh010"


def test_client_submit_bodies() -> None:
    sent: list[tuple[str, object]] = []

    class Recording(client.Client):
        def _post(self, path: str, body: object = None, idempotency_key: object = None) -> object:
            sent.append((path, body))
            return {}

    c = Recording(url="http://127.0.0.1:9", token="t")
    wf = client.Workflow("shot-${shot}")
    wf.param("shot")
    wf.task("a", [["echo", "${shot}"]])
    c.submit(wf, params={"shot": "sh010"})
    c.submit_template("shot", {"shot": "sh020"})
    c.add_template(wf, name="shot")
    assert sent == [
        ("/workflows", {"document": wf.to_dict(), "params": {"shot": "sh010"}}),
        ("/workflows", {"template": "shot", "params": {"shot": "sh020"}}),
        ("/templates", {"document": wf.to_dict(), "replace": False, "name": "shot"}),
    ]
