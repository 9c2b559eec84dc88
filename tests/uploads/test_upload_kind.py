"""The upload kind's validation rules and fixers, and `storm run` running an upload."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from stormflow.spec import Severity, validate

from .conftest import S3, write_random


def _doc(*nodes: dict[str, Any], edges: list[list[str]] | None = None) -> dict[str, Any]:
    return {"schema": 1, "name": "up", "nodes": list(nodes), "edges": edges or []}


def _entries(doc: dict[str, Any], code: str) -> list[Any]:
    return [e for e in validate(doc) if e.code == code]


def test_missing_files_are_an_error_whose_fixer_removes_them(tmp_path: Path) -> None:
    scene = write_random(tmp_path / "scene.ma", 10)
    doc = _doc(
        {
            "name": "up",
            "kind": "upload",
            "files": [str(scene), str(tmp_path / "gone.abc"), str(tmp_path / "*.vdb")],
            "destination": f"file://{tmp_path}/farm",
        }
    )
    before = copy.deepcopy(doc)
    [entry] = _entries(doc, "missing-file")
    assert entry.severity is Severity.ERROR and entry.nodes == ("up",)
    assert "gone.abc" in entry.message and entry.field == "files"
    fixed = entry.fixers[0].apply(doc)
    assert doc == before  # the fixer edits a copy
    assert fixed["nodes"][0]["files"] == [str(scene)]
    assert not _entries(fixed, "missing-file")


def test_outside_root_and_huge_files_are_warnings(tmp_path: Path) -> None:
    inside = write_random(tmp_path / "proj" / "scene.ma", 2000)
    outside = write_random(tmp_path / "elsewhere" / "tex.exr", 10)
    doc = _doc(
        {
            "name": "up",
            "kind": "upload",
            "root": str(tmp_path / "proj"),
            "files": ["scene.ma", str(outside)],
            "destination": f"file://{tmp_path}/farm",
            "warn_size": 1000,
        }
    )
    [out] = _entries(doc, "outside-root")
    assert out.severity is Severity.WARNING and str(outside) in out.message
    [huge] = _entries(doc, "huge-file")
    assert huge.severity is Severity.WARNING and "scene.ma" in huge.message
    assert inside.exists() and not _entries(doc, "missing-file")


def test_a_destination_that_cannot_be_written_or_reached_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "file").write_text("x")
    scene = write_random(tmp_path / "scene.ma", 10)
    for url in (f"file://{tmp_path}/ro/file/sub", "gopher://x"):
        doc = _doc({"name": "up", "kind": "upload", "files": [str(scene)], "destination": url})
        codes = {e.code for e in validate(doc) if e.severity is Severity.ERROR}
        assert codes & {"unreachable-destination", "bad-destination"}, url
    closed = _doc(
        {
            "name": "up",
            "kind": "upload",
            "files": [str(scene)],
            "destination": "s3://bucket/x",
            "endpoint_url": "http://127.0.0.1:9",  # nothing listens on the discard port
        }
    )
    [entry] = _entries(closed, "unreachable-destination")
    assert "s3://bucket/x" in entry.message and "\n" not in entry.message


def test_a_reachable_bucket_passes_and_small_s3_parts_get_a_fixer(tmp_path: Path, s3: S3) -> None:
    scene = write_random(tmp_path / "scene.ma", 10)
    node = {
        "name": "up",
        "kind": "upload",
        "files": [str(scene)],
        "destination": s3.url(),
        "endpoint_url": s3.endpoint,
        "part_size": 1024 * 1024,
    }
    doc = _doc(node)
    assert not _entries(doc, "unreachable-destination")
    [small] = _entries(doc, "part-too-small")
    fixed = small.fixers[0].apply(doc)
    assert fixed["nodes"][0]["part_size"] == 8 * 1024 * 1024
    assert [e for e in validate(fixed) if e.severity is Severity.ERROR] == []


def test_a_task_reading_a_file_no_upload_sends_gets_a_warning_and_a_fixer(
    tmp_path: Path,
) -> None:
    scene = write_random(tmp_path / "proj" / "scene.ma", 10)
    cache = write_random(tmp_path / "proj" / "cache.abc", 10)
    farm = tmp_path / "farm"
    doc = _doc(
        {
            "name": "up",
            "kind": "upload",
            "files": [str(scene)],
            "destination": f"file://{farm}",
        },
        {
            "name": "render",
            "kind": "task",
            "commands": [
                ["render", "-scene", str(scene), f"--cache={cache}", f"{farm}/scene.ma"],
                f"python -c pass {tmp_path}/not-there.exr",
            ],
        },
        edges=[["up", "render"]],
    )
    [entry] = _entries(doc, "not-uploaded")
    assert entry.severity is Severity.WARNING and str(cache) in entry.message
    assert entry.nodes == ("render",)
    fixed = entry.fixers[0].apply(doc)
    assert fixed["nodes"][0]["files"] == [str(scene), str(cache)]
    assert not _entries(fixed, "not-uploaded")


def test_the_fixer_links_an_upload_that_is_not_upstream_yet(tmp_path: Path) -> None:
    scene = write_random(tmp_path / "scene.ma", 10)
    doc = _doc(
        {"name": "up", "kind": "upload", "files": [], "destination": f"file://{tmp_path}/f"},
        {"name": "render", "kind": "task", "commands": [["render", str(scene)]]},
    )
    [entry] = _entries(doc, "not-uploaded")
    fixed = entry.fixers[0].apply(doc)
    assert fixed["nodes"][0]["files"] == [str(scene)]
    assert ["up", "render"] in fixed["edges"]
    # workflows without upload nodes run where their files are: no warning at all
    alone = _doc({"name": "render", "kind": "task", "commands": [["render", str(scene)]]})
    assert not _entries(alone, "not-uploaded")


def test_bad_parameters_are_errors_not_crashes(tmp_path: Path) -> None:
    for node in (
        {"name": "up", "kind": "upload", "files": "scene.ma", "destination": "file:///tmp/x"},
        {"name": "up", "kind": "upload", "files": [1, None], "destination": 5},
        {"name": "up", "kind": "upload", "files": [], "destination": "file:///tmp/x", "workers": 0},
        {"name": "up", "kind": "upload"},
    ):
        errors = [e for e in validate(_doc(node)) if e.severity is Severity.ERROR]
        assert errors, node
