"""The DCC integrations Storm ships, as files a user installs: the Blender add-on's zip.

The add-on's source is `integrations/blender/storm_blender/` in the repository (Storm runs
from a checkout: `make setup` installs it editable). Its zip holds that package plus Storm's
stdlib client vendored as `storm_blender/storm_client.py`, so it runs on Blender's bundled
Python with nothing else installed. Built on request (a dozen small files, a few
milliseconds), byte for byte the same for the same sources (fixed timestamps): an ETag.
"""

from __future__ import annotations

import ast
import hashlib
import io
import zipfile
from pathlib import Path

import stormflow
from stormflow import client

BLENDER_PACKAGE = "storm_blender"
BLENDER_ZIP_NAME = "storm_blender.zip"
#: The vendored client's module name inside the add-on.
VENDORED_CLIENT = "storm_client.py"
_EPOCH = (2020, 1, 1, 0, 0, 0)  # zip entries' timestamp: the same bytes for the same sources


class IntegrationMissing(LookupError):
    """The add-on's sources are not installed next to Storm."""


def blender_addon_source() -> Path:
    # src/stormflow/__init__.py -> the repository root
    root = Path(stormflow.__file__).resolve().parents[2]
    candidate = root / "integrations" / "blender" / BLENDER_PACKAGE
    if (candidate / "__init__.py").is_file():
        return candidate
    raise IntegrationMissing(f"the Blender add-on's sources ({BLENDER_PACKAGE}/) are not installed")


def blender_addon_version(source: Path | None = None) -> str:
    """`bl_info["version"]` as "1.0.0", read without importing the add-on (it needs bpy)."""
    init = (source or blender_addon_source()) / "__init__.py"
    tree = ast.parse(init.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "bl_info" for t in node.targets
        ):
            try:
                version = ast.literal_eval(node.value)["version"]
            except (ValueError, TypeError, KeyError):
                break
            if isinstance(version, tuple) and version and all(isinstance(v, int) for v in version):
                return ".".join(str(v) for v in version)
            break
    raise IntegrationMissing(f"{init} holds no bl_info with a version like (1, 0, 0)")


def blender_addon_zip(source: Path | None = None) -> bytes:
    """The add-on as Blender's "Install from Disk" takes it: storm_blender/... in a zip."""
    root = source or blender_addon_source()
    files = sorted(
        p for p in root.rglob("*.py") if "__pycache__" not in p.parts and p.name != VENDORED_CLIENT
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            name = f"{BLENDER_PACKAGE}/{path.relative_to(root).as_posix()}"
            archive.writestr(zipfile.ZipInfo(name, _EPOCH), path.read_bytes(), zipfile.ZIP_DEFLATED)
        vendored = Path(client.__file__).read_bytes()
        archive.writestr(
            zipfile.ZipInfo(f"{BLENDER_PACKAGE}/{VENDORED_CLIENT}", _EPOCH),
            vendored,
            zipfile.ZIP_DEFLATED,
        )
    return buffer.getvalue()


def etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
