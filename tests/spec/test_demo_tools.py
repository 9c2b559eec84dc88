"""The demo tools the render_pipeline example runs: render a frame, encode a movie."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stormflow.demo import comp, encode, image, render, simulate


def test_render_one_frame_and_encode_two_into_an_mp4(tmp_path: Path) -> None:
    simulate.main(["--start", "1", "--end", "2", "--out", str(tmp_path / "cache")])
    render.main(
        [
            "--cache",
            str(tmp_path / "cache"),
            "--start",
            "1",
            "--end",
            "1",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    png = image.read_png(tmp_path / "r" / "frame.0001.png")
    assert (png.width, png.height) == (image.WIDTH, image.HEIGHT)
    render.main(
        [
            "--cache",
            str(tmp_path / "cache"),
            "--start",
            "2",
            "--end",
            "2",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    comp.main(
        [
            "--renders",
            str(tmp_path / "r"),
            "--start",
            "1",
            "--end",
            "2",
            "--out",
            str(tmp_path / "c"),
        ]
    )
    movie = tmp_path / "movie.mp4"
    encode.main(["--input", str(tmp_path / "c"), "--out", str(movie)])
    assert movie.stat().st_size > 0


def test_tools_run_as_modules(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    command = [sys.executable, "-m", "stormflow.demo.simulate", "--start", "1", "--end", "1"]
    subprocess.run(command, cwd=tmp_path, env=env, check=True)
    assert (tmp_path / "cache" / "frame.0001.json").exists()
