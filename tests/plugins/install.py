"""Installing the example plugin into the test venv (pip, no deps, no build isolation)."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "storm-ffmpeg"


def install_example() -> None:
    """pip-install examples/plugins/storm-ffmpeg (~1 s) unless this version already is.

    Processes started afterwards (storm run, storm server) load it from its entry point.
    """
    try:
        if metadata.version("storm-ffmpeg") == "0.1.0":
            return
    except metadata.PackageNotFoundError:
        pass
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", str(PACKAGE)],
        check=True,
        timeout=120,
    )  # fmt: skip
