"""The add-on's plain part (no bpy): the document a scene's settings make, and what a fixed
document writes back. Checked by Storm's own validator, so the add-on never sends a job
Storm would refuse for its own making."""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

import pytest

from stormflow.spec import validate
from tests.blender.conftest import ROOT


def _load() -> ModuleType:
    path = ROOT / "integrations" / "blender" / "storm_blender" / "job.py"
    spec = importlib.util.spec_from_file_location("storm_blender_job", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


job = _load()


def settings(**kw: Any) -> Any:
    base: dict[str, Any] = {
        "name": "shot010",
        "blend": "/projects/shot010.blend",
        "scene": "Scene",
        "frame_start": 1,
        "frame_end": 100,
    }
    return job.JobSettings(**{**base, **kw})


def test_the_default_job_renders_then_encodes_and_is_valid() -> None:
    doc = job.document(settings(scout_frames="1,50", instance_type="cpu-16", retries=2))
    assert [n["name"] for n in doc["nodes"]] == ["render", "encode"]
    render = doc["nodes"][0]
    assert render["frames"] == "1-100" and render["chunk_size"] == 10
    assert render["scout"] == "1,50" and render["instance_type"] == "cpu-16"
    assert render["commands"] == [
        ["python", "-m", "stormflow.demo.blender_render", "--scene", "/projects/shot010.blend",
         "--frames", "{frames}", "--out", "renders/frame.####.png"]
    ]  # fmt: skip
    assert doc["edges"] == [["render", "encode"]]
    assert [e for e in validate(doc) if e.severity == "error"] == []


def test_notify_adds_an_email_after_the_movie_and_steps_carry_over() -> None:
    doc = job.document(settings(frame_step=2, notify="a@example.com, b@example.com"))
    assert doc["nodes"][0]["frames"] == "1-100x2"
    assert doc["nodes"][2]["addresses"] == ["a@example.com", "b@example.com"]
    assert doc["edges"] == [["render", "encode"], ["encode", "notify"]]
    alone = job.document(settings(movie=False, notify="a@example.com"))
    assert alone["edges"] == [["render", "notify"]]
    assert [e.code for e in validate(doc) if e.severity == "error"] == []


def test_the_blender_renderer_uses_blenders_own_animation_render() -> None:
    (command,) = job.document(settings(renderer="blender", output="/out/"))["nodes"][0]["commands"]
    assert command[:3] == ["blender", "-b", "/projects/shot010.blend"]
    assert command[command.index("-o") + 1] == "/out/frame.####"
    assert "{start}" in command and "{end}" in command


def test_read_back_takes_what_the_panel_can_hold() -> None:
    fixed = job.document(settings(chunk_size=7, scout_frames="1,3"))
    fixed["name"] = "shot_010"
    assert job.read_back(fixed) == {
        "name": "shot_010",
        "frame_start": 1,
        "frame_end": 100,
        "frame_step": 1,
        "chunk_size": 7,
        "retries": 1,
        "scout_frames": "1,3",
        "instance_type": "",
    }


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"name": 5, "nodes": "x"},
        {"nodes": [None, 3, {"name": "render", "frames": "1,5,9", "chunk_size": True}]},
        {"nodes": [{"name": "render", "frames": ["1"], "scout": [1, 2], "instance_type": 4}]},
    ],
)
def test_read_back_of_odd_documents_never_raises(doc: dict[str, Any]) -> None:
    values = job.read_back(doc)
    assert "frame_start" not in values and "chunk_size" not in values
    assert values.get("scout_frames", "") in ("", "1,2")


@pytest.mark.parametrize(
    ("path", "name"),
    [("/p/shot 010.blend", "shot 010"), ("C:\\p\\a.blend", "a"), ("", "untitled")],
)
def test_the_default_name_is_the_file_name(path: str, name: str) -> None:
    assert job.default_name(path) == name
