"""Versions: the Blender add-on's, read from its source; the order behind "update available";
the X-Storm-Client header's parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from stormflow.api.clients import parse_client
from stormflow.plugins.builtin import addon_version
from stormflow.plugins.report import is_older


def addon(root: Path, text: str) -> Path:
    package = root / "integrations" / "blender" / "storm_blender"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(text)
    return root


def test_the_addon_version_comes_from_bl_info(tmp_path: Path) -> None:
    root = addon(tmp_path, 'import bpy\nbl_info = {"name": "Storm", "version": (1, 4, 2)}\n')
    assert addon_version(root) == "1.4.2"


@pytest.mark.parametrize(
    "text",
    ["bl_info = {'name': 'x'}\n", "bl_info = make()\n", "def (:\n", "version = (1, 0)\n"],
)
def test_an_unreadable_addon_version_is_none(tmp_path: Path, text: str) -> None:
    assert addon_version(addon(tmp_path, text)) is None


def test_no_addon_sources_is_none(tmp_path: Path) -> None:
    assert addon_version(tmp_path) is None


@pytest.mark.parametrize(
    ("seen", "offered", "older"),
    [
        ("1.9.2", "1.10.0", True),
        ("1.10.0", "1.9.2", False),
        ("1.2", "1.2.1", True),
        ("1.2.0", "1.2.0", False),
        ("0.0.1", "0.1.0", True),
        ("2.0.0", "1.0.0", False),
    ],
)
def test_versions_compare_part_by_part(seen: str, offered: str, older: bool) -> None:
    assert is_older(seen, offered) is older


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        ("blender-addon/1.0.0", ("blender-addon", "1.0.0")),
        ("  storm-encode/0.1.0+dev  ", ("storm-encode", "0.1.0+dev")),
        ("Blender-Addon/1.0", None),  # product names are lower case
        ("blender-addon/", None),
        ("blender-addon 1.0", None),
        ("blender-addon/1.0/extra", None),
        ("", None),
    ],
)
def test_the_client_header(header: str, parsed: tuple[str, str] | None) -> None:
    assert parse_client(header) == parsed
