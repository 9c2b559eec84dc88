"""The Monitor shows an upload moving: a bar on the upload node, the node panel's figures
and files with their own bars; pause and resume from the panel reach the transfer."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from .conftest import Console, Server, screenshot


def test_the_monitor_shows_upload_progress_and_pauses_it(
    storm_server: Server, page: tuple[Any, Console], tmp_path: Path
) -> None:
    srv = storm_server
    pg, console = page
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "scene.ma").write_bytes(random.Random(1).randbytes(3 * 1024 * 1024))
    (proj / "tex.exr").write_bytes(b"texture")
    doc = {
        "schema": 1,
        "name": "uploading",
        "nodes": [
            {"name": "upload", "kind": "upload", "files": ["scene.ma", "tex.exr"],
             "root": str(proj), "destination": f"file://{tmp_path}/farm",
             "part_size": 65536, "workers": 1, "max_rate": 1_000_000},
            {"name": "render", "kind": "task", "commands": [["true"]]},
        ],
        "edges": [["upload", "render"]],
    }  # fmt: skip
    r = srv.api.post("/workflows", json=doc)
    assert r.status_code == 201, r.text
    wid = r.json()["id"]
    pg.goto(srv.page_url(f"workflows/{wid}"))
    pg.get_by_test_id("monitor").wait_for()
    bar = pg.get_by_test_id("upload-node-bar")
    bar.wait_for()
    pg.locator('[data-testid="graph-node"][data-name="upload"]').click()
    panel = pg.get_by_test_id("upload-panel")
    panel.wait_for()
    pg.get_by_test_id("upload-pause").click()
    pg.locator('[data-testid="upload-state"]', has_text="paused").wait_for()
    assert srv.api.get(f"/workflows/{wid}/uploads").json()["uploads"][0]["paused"] is True
    files = pg.get_by_test_id("upload-files")
    assert "scene.ma" in files.inner_text()
    screenshot(pg, tmp_path, "monitor-upload")
    pg.get_by_test_id("upload-resume").click()
    pg.locator('[data-testid="upload-state"]', has_text="done").wait_for(timeout=30_000)
    assert float(bar.get_attribute("data-pct") or 0) == 100.0
    assert (tmp_path / "farm" / "scene.ma").read_bytes() == (proj / "scene.ma").read_bytes()
    console.check()
