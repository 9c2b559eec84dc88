"""The built web UI (Composer, Monitor, workflow list) that `storm server` serves at /ui/.

The sources live in `ui/` at the repository root (React + TypeScript + @xyflow/react,
built with Vite); `npm run build` there writes the assets into `static/` here, and the
build output is committed so a Python-only install serves the UI without npm.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["index_html", "static_dir"]


def static_dir() -> Path:
    """The directory holding the built UI: `index.html` and `assets/`."""
    return Path(__file__).resolve().parent / "static"


def index_html() -> Path:
    """The SPA entry point, served for every `/ui/...` path that is not an asset."""
    return static_dir() / "index.html"
