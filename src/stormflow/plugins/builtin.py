"""The DCC integrations Storm ships itself: the Blender add-on (integrations/blender/).

The add-on's zip is built and served by the server (`BLENDER_ADDON_URL`); the version the
plugins page offers is the add-on's own `bl_info["version"]`, read from its source without
importing it (it imports `bpy`).
"""

from __future__ import annotations

from pathlib import Path

import stormflow
from stormflow.integrations import BLENDER_PACKAGE, IntegrationMissing, blender_addon_version
from stormflow.plugins.api import DccIntegration

#: Where the server serves the add-on's zip (built from integrations/blender/).
BLENDER_ADDON_URL = "/api/v1/integrations/blender/addon.zip"
#: What the add-on sends as `X-Storm-Client: blender-addon/<version>`.
BLENDER_CLIENT = "blender-addon"


def addon_version(root: Path | None = None) -> str | None:
    """`bl_info["version"]` of the add-on under integrations/blender/, as "1.2.0"; None when
    the sources are not there (an installed wheel) or hold no readable bl_info."""
    source = None if root is None else root / "integrations" / "blender" / BLENDER_PACKAGE
    try:
        return blender_addon_version(source)
    except (IntegrationMissing, OSError, SyntaxError, UnicodeDecodeError, ValueError):
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
