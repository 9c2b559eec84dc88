"""`python -m bench --blender --quick` runs inside Blender and prints its figures (not
checked: timings belong in bench/)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.blender.conftest import ROOT, need_bpy


@pytest.mark.slow
def test_blender_bench_prints_the_submit_figures(tmp_path: Path) -> None:
    need_bpy()
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--blender", "--quick", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "blender skipped" not in done.stdout, done.stdout
    for name in ("Submit returns control (median of 5)", "Submit answer in the panel"):
        assert name in done.stdout
    assert re.search(r"workflows stored\s*\|\s*5 \|", done.stdout), done.stdout
