"""The DCC integrations Storm ships itself: the Blender add-on (integrations/blender/).

The add-on's zip is built and served by the server (`BLENDER_ADDON_URL`); the version the
plugins page offers is the add-on's own `bl_info["version"]`, read from its source without
importing it (it imports `bpy`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import stormflow
from stormflow.plugins.api import DccIntegration

#: Where the server serves the add-on's zip (built from integrations/blender/).
BLENDER_ADDON_URL = "/api/v1/integrations/blender/addon.zip"
#: What the add-on sends as `X-Storm-Client: blender-addon/<version>`.
BLENDER_CLIENT = "blender-addon"


def _source_root() -> Path:
    # src/stormflow/plugins/builtin.py -> the repository (or the site-packages parent)
    return Path(__file__).resolve().parents[3]


def addon_version(root: Path | None = None) -> str | None:
    """`bl_info["version"]` of the add-on under integrations/blender/, as "1.2.0"; None when
    the sources are not there (an installed wheel) or hold no readable bl_info."""
    base = (root or _source_root()) / "integrations" / "blender"
    if not base.is_dir():
        return None
    candidates = sorted(base.glob("__init__.py")) + sorted(base.glob("*/__init__.py"))
    for path in candidates:
        found = _bl_info_version(path)
        if found is not None:
            return found
    return None


def _bl_info_version(path: Path) -> str | None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    for node in tree.body:
        if not isinstance(node, ast.Assign | ast.AnnAssign):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if not any(isinstance(t, ast.Name) and t.id == "bl_info" for t in targets):
            continue
        try:
            info = ast.literal_eval(node.value) if node.value is not None else None
        except ValueError:
            return None
        version = info.get("version") if isinstance(info, dict) else None
        if isinstance(version, tuple | list) and all(isinstance(v, int) for v in version):
            return ".".join(str(v) for v in version)
    return None


def builtin_integrations() -> list[DccIntegration]:
    return [
        DccIntegration(
            name="blender",
            title="Blender",
            version=addon_version() or stormflow.__version__,
            description=(
                "Submit render jobs from Blender's Render properties: validate with fixers, "
                "open the job in the Composer, submit without waiting."
            ),
            client=BLENDER_CLIENT,
            download=BLENDER_ADDON_URL,
            filename="storm_blender.zip",
            dcc_versions="4.2 and later",
            install=(
                "Download the add-on zip.",
                "In Blender: Edit > Preferences > Add-ons > Install from Disk, pick the zip.",
                "Enable 'Storm' in the add-on list.",
                "Open Properties > Render > Storm; it finds the local `storm server` by itself "
                "(server.json), or set the server URL and token in the add-on's preferences.",
            ),
        )
    ]
