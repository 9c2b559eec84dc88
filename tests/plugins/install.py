"""Installing the example plugin into the test venv (pip, no deps, no build isolation)."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "storm-ffmpeg"


def _up_to_date() -> bool:
    """Installed, and its modules are the ones in examples/ (pip copies them)."""
    try:
        dist = metadata.distribution("storm-ffmpeg")
    except metadata.PackageNotFoundError:
        return False
    installed = {
        Path(str(f)).name: Path(str(dist.locate_file(f)))
        for f in dist.files or ()
        if str(f).startswith("storm_ffmpeg/")
    }
    for source in (PACKAGE / "storm_ffmpeg").iterdir():
        if not source.is_file():
            continue
        copy = installed.get(source.name)
        if copy is None or not copy.is_file() or copy.read_bytes() != source.read_bytes():
            return False
    return True


def install_example() -> None:
    """pip-install examples/plugins/storm-ffmpeg (~1 s) unless the same files already are.

    Processes started afterwards (storm run, storm server) load it from its entry point.
    """
    if _up_to_date():
        return
    # pytest-xdist workers may get here together: one pip at a time in the venv
    with open(Path(sys.prefix) / ".storm-ffmpeg-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _up_to_date():
            _pip_install()


def _pip_install() -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--force-reinstall", str(PACKAGE)],
        check=True,
        timeout=120,
    )  # fmt: skip
