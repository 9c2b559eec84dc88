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


def _project(tmp_path: Any) -> tuple[str, list[str]]:
    """A saved .blend with a texture beside it, a library one directory up, a UDIM set."""
    proj = tmp_path / "proj" / "shots"
    (proj / "textures").mkdir(parents=True)
    blend = proj / "sh010.blend"
    blend.write_bytes(b"BLENDER")
    (proj / "textures" / "wood.png").write_bytes(b"png")
    (tmp_path / "proj" / "lib.blend").write_bytes(b"BLENDER")
    for tile in (1001, 1002):
        (proj / "textures" / f"skin.{tile}.exr").write_bytes(b"exr")
    deps = [
        str(proj / "textures" / "wood.png"),
        str(tmp_path / "proj" / "lib.blend"),
        str(proj / "textures" / "skin.<UDIM>.exr"),
        str(proj / "textures" / "gone.png"),
    ]
    return str(blend), deps


def test_an_upload_sends_the_blend_and_what_exists_and_the_render_reads_the_copy(
    tmp_path: Any,
) -> None:
    blend, deps = _project(tmp_path)
    farm = tmp_path / "farm"
    upload = job.UploadSettings(f"file://{farm}", host="ws-1", paths=deps, packed=2)
    s = settings(blend=blend, upload=upload)
    notes = upload.resolve(blend)
    assert [n["code"] for n in notes] == ["dependency-missing", "dependency-packed"]
    assert deps[3] in notes[0]["message"] and notes[0]["severity"] == "warning"
    assert notes[1]["message"] == "2 packed file(s) travel inside the .blend"
    doc = job.document(s)
    node = doc["nodes"][0]
    assert node["kind"] == "upload" and node["host"] == "ws-1"
    # the root all files share: the .blend's `//../lib.blend` still holds at the destination
    assert node["root"] == str(tmp_path / "proj")
    assert node["files"] == [
        blend,
        deps[0],
        deps[1],
        str(tmp_path / "proj/shots/textures/skin.*.exr"),
    ]
    assert node["destination"] == f"file://{farm}" and "endpoint_url" not in node
    assert ["upload_scene", "render"] in doc["edges"]
    (command,) = doc["nodes"][1]["commands"]
    assert command[command.index("--scene") + 1] == f"{farm}/shots/sh010.blend"
    entries = [e for e in validate(doc) if e.severity != "info"]
    assert entries == [], entries


def test_an_s3_upload_keeps_the_scene_path_and_names_its_endpoint(tmp_path: Any) -> None:
    blend, deps = _project(tmp_path)
    upload = job.UploadSettings(
        "s3://bucket/sh010", endpoint_url="http://minio:9000", profile="farm", paths=deps[:1]
    )
    assert upload.resolve(blend) == []
    doc = job.document(settings(blend=blend, upload=upload, renderer="blender"))
    node = doc["nodes"][0]
    assert node["endpoint_url"] == "http://minio:9000" and node["profile"] == "farm"
    assert node["root"] == str(tmp_path / "proj" / "shots")
    assert doc["nodes"][1]["commands"][0][2] == blend  # the farm syncs or mounts the bucket
