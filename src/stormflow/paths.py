"""Where Storm keeps its data: STORM_HOME, else ~/.storm."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("STORM_HOME", "").strip()
    return Path(env).expanduser().resolve() if env else Path.home() / ".storm"
