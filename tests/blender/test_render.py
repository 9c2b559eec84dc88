"""The render helper, the example, and real Cycles frames rendered through Storm."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy
import pytest
import yaml
from PIL import Image

from stormflow.client import Client
from stormflow.demo.blender_render import RenderError, binary_command, frame_file, parse_frames
from tests.blender.conftest import ROOT, Blender
from tests.client.serverproc import Server, wait_for

HELPER = [sys.executable, "-m", "stormflow.demo.blender_render"]


def test_frames_read_like_storms_frame_specs() -> None:
    assert parse_frames("1-5") == [1, 2, 3, 4, 5]
    assert parse_frames("1-10x3") == [1, 4, 7, 10]
    assert parse_frames("7") == [7]
    assert parse_frames("3,1-2,3") == [3, 1, 2]  # a chunk's {frames}, each frame once
    assert parse_frames("-2--1") == [-2, -1]


@pytest.mark.parametrize("spec", ["", "a-b", "5-1", "1-5x0", "1..5"])
def test_bad_frames_name_the_argument(spec: str) -> None:
    with pytest.raises(RenderError, match="--frames"):
        parse_frames(spec)


def test_frame_files_are_padded_by_the_hashes() -> None:
    assert frame_file("renders/frame.####.png", 7) == Path("renders/frame.0007.png")
    assert frame_file("out/f_##.png", 123) == Path("out/f_123.png")
    with pytest.raises(RenderError, match="####"):
        frame_file("renders/frame.png", 1)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--scene", "missing.blend", "--frames", "1-2"], "--scene: no file"),
        (["--scene", "scene.blend", "--frames", "9-1"], "--frames"),
        (["--scene", "scene.blend", "--frames", "1", "--out", "x.png"], "--out"),
        (["--scene", "scene.blend", "--frames", "1", "--samples", "0"], "--samples"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_with_nothing_written(
    tmp_path: Path, args: list[str], says: str
) -> None:
    (tmp_path / "scene.blend").write_bytes(b"BLENDER")
    done = subprocess.run([*HELPER, *args], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("blender_render: ") and says in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.blend"]


def _without_bpy(tmp_path: Path, path: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The helper in a Python where `import bpy` fails, with PATH as given."""
    code = (
        "import sys; sys.modules['bpy'] = None\n"
        "from stormflow.demo.blender_render import main; main(sys.argv[1:])"
    )
    env = {**os.environ, "PATH": path}
    env.pop("STORM_BLENDER", None)
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tmp_path, env=env
    )


def test_without_bpy_or_a_blender_binary_it_says_how_to_get_one(tmp_path: Path) -> None:
    (tmp_path / "scene.blend").write_bytes(b"BLENDER")
    done = _without_bpy(tmp_path, str(tmp_path), "--scene", "scene.blend", "--frames", "1")
    assert done.returncode == 2
    assert "no Blender: install the bpy module (`make blender`)" in done.stderr


def test_without_bpy_the_blender_binary_runs_this_helper(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "blender"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/args"\n')
    fake.chmod(0o755)
    (tmp_path / "scene.blend").write_bytes(b"BLENDER")
    argv = ["--scene", "scene.blend", "--frames", "1-2", "--out", "r/f.####.png"]
    done = _without_bpy(tmp_path, f"{bin_dir}:/usr/bin:/bin", *argv)
    assert done.returncode == 0, done.stderr
    passed = (bin_dir / "args").read_text().splitlines()
    assert passed == binary_command(str(fake), argv)[1:]
    assert passed[:3] == ["-b", "--factory-startup", "--python-exit-code"]
    assert passed[passed.index("--") + 1 :] == argv


def _looks_rendered(path: Path) -> None:
    """A real Cycles frame of the demo scene: its size, shaded, the orange ball and blue torus."""
    with Image.open(path) as image:
        assert image.size == (320, 180)
        rgb = numpy.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)
    assert len(numpy.unique(rgb, axis=0)) > 500  # shading and noise, not a flat stand-in
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    assert int(((r > g + 40) & (r > b + 60)).sum()) > 300, "no orange ball in the frame"
    assert int(((b > r + 40) & (b > g)).sum()) > 1000, "no blue torus in the frame"


@pytest.mark.slow
def test_the_addon_submits_two_frames_that_cycles_renders_into_a_movie(
    blender: Blender, server: Server
) -> None:
    props = {"chunk_size": 1, "scout_frames": "", "retries": 0, "job_name": "two_frames"}
    result = blender.run("submit", props=props, frames="1-2", blend="two.blend")
    workflow_id = result["workflow"]["id"]
    client = Client(url=server.url, token=server.token, timeout=10)

    def finished() -> dict[str, Any] | None:
        summary = client.workflow(workflow_id)
        return summary if summary["status"] not in ("running", "open") else None

    summary = wait_for(finished, timeout=180, every=0.5)
    work = server.home / "work" / workflow_id
    assert summary["status"] == "succeeded", client.log(workflow_id, "render.1")
    for frame in (1, 2):
        _looks_rendered(work / "renders" / f"frame.{frame:04d}.png")
        log = client.log(workflow_id, f"render.{frame}")
        assert f"frame {frame} done in " in log and "(1/1)" in log
    assert (work / "movie.mp4").stat().st_size > 1000


@pytest.mark.slow
def test_the_example_renders_its_scouts_then_the_rest_after_unhold(
    server: Server, tmp_path: Path
) -> None:
    doc = yaml.safe_load((ROOT / "examples" / "blender_render.yaml").read_text())
    nodes = {n["name"]: n for n in doc["nodes"]}
    # the example as written, smaller: 2 frames at 4 samples, chunk 1, scout frame 2
    nodes["scene"]["commands"][0][-1] = "1-2"
    nodes["render"].update(frames="1-2", chunk_size=1, scout="2")
    nodes["render"]["commands"][0] += ["--samples", "4"]
    small = tmp_path / "blender_render.yaml"
    small.write_text(yaml.safe_dump(doc))
    submitted = server.storm("submit", str(small))
    assert submitted.returncode == 0, submitted.stderr
    client = Client(url=server.url, token=server.token, timeout=10)
    (wf,) = [w["id"] for w in client.workflows(name="blender_render")]

    def scouted() -> bool:
        rows = {r["name"]: r["status"] for r in client.nodes(wf)}
        return rows["render.2"] in ("succeeded", "failed")

    wait_for(scouted, timeout=120, every=0.5)
    rows = {r["name"]: r["status"] for r in client.nodes(wf)}
    assert rows["render.2"] == "succeeded", client.log(wf, "render.2")
    assert rows["render.1"] == "holding"
    released = server.storm("unhold", wf, "--status", "holding", "--yes")
    assert released.returncode == 0, released.stderr
    wait_for(lambda: client.workflow(wf)["status"] != "running", timeout=120, every=0.5)
    assert client.workflow(wf)["status"] == "succeeded"
    work = server.home / "work" / wf
    for frame in (1, 2):
        _looks_rendered(work / "renders" / f"frame.{frame:04d}.png")
    assert (work / "movie.mp4").stat().st_size > 1000
    assert len(list((server.home / "outbox").glob("*.eml"))) >= 1
