"""The example plugin package (examples/plugins/storm-ffmpeg), installed into this venv with
pip and used end to end through `storm`: validate (its fixer applied), run to a movie, and
`storm plugins` showing it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import pytest

from tests.plugins.install import PACKAGE, install_example

STORM = str(Path(sys.executable).with_name("storm"))


@pytest.fixture(scope="module")
def installed() -> None:
    install_example()


def storm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STORM, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
def test_the_ffmpeg_kind_validates_with_its_fixer_and_runs_to_a_movie(
    installed: None, tmp_path: Path
) -> None:
    source = PACKAGE / "encode.yaml"
    found = storm("validate", str(source), "--json", cwd=tmp_path)
    assert found.returncode == 2, found.stderr
    (entry,) = json.loads(found.stdout)
    assert entry["code"] == "ffmpeg-output"
    assert [f["name"] for f in entry["fixers"]] == ["ffmpeg-output-mp4:movie"]

    fixed = tmp_path / "encode.yaml"
    done = storm(
        "validate", str(source), "--fix", "ffmpeg-output-mp4:movie", "--write", str(fixed),
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "output: movie.mp4" in fixed.read_text()

    ran = storm("run", str(fixed), "--data-dir", str(tmp_path / "data"), "-q", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (movie,) = (tmp_path / "data" / "work").glob("*/movie.mp4")
    frames, _seconds = imageio_ffmpeg.count_frames_and_secs(str(movie))
    assert frames == 8


def test_storm_plugins_lists_the_example_plugin(installed: None, tmp_path: Path) -> None:
    shown = storm("plugins", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    plugins = {p["name"]: p for p in data["plugins"]}
    ffmpeg = plugins["storm-ffmpeg"]
    assert (ffmpeg["status"], ffmpeg["api_version"], ffmpeg["version"]) == ("loaded", 1, "0.1.0")
    assert ffmpeg["adds"]["kinds"] == ["ffmpeg"]
    assert ffmpeg["adds"]["rules"] == ["task_calls_ffmpeg", "ffmpeg: output_suffix"]
    assert plugins["storm"]["builtin"] and "task" in plugins["storm"]["adds"]["kinds"]
    assert plugins["storm"]["adds"]["notifications"] == ["email", "webhook"]
    script = next(i for i in data["integrations"] if i["name"] == "storm-encode-script")
    assert script["download_url"] == "/api/v1/plugins/integrations/storm-encode-script/download"

    text = storm("plugins", "storm-ffmpeg", cwd=tmp_path)
    assert text.returncode == 0 and "storm-ffmpeg 0.1.0  loaded" in text.stdout
    assert "kinds: ffmpeg" in text.stdout


def test_storm_plugins_with_an_unknown_name_is_one_line_exit_2(tmp_path: Path) -> None:
    shown = storm("plugins", "no-such-plugin", cwd=tmp_path)
    assert shown.returncode == 2 and shown.stdout == ""
    assert shown.stderr.startswith("storm: error: no plugin or DCC integration named ")
    assert shown.stderr.count("\n") == 1


def test_plugins_can_be_switched_off_for_troubleshooting(installed: None, tmp_path: Path) -> None:
    import os

    env = {**os.environ, "STORM_PLUGINS": "off"}
    shown = subprocess.run(
        [STORM, "plugins", "--json"], capture_output=True, text=True, timeout=60, env=env
    )
    assert [p["name"] for p in json.loads(shown.stdout)["plugins"]] == ["storm"]
