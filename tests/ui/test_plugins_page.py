"""The plugins page in Chromium against a real `storm server` with the example plugin
installed and a broken plugin beside it: integrations with version, download, install
steps and "update available"; plugins with what they add and their health."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.plugins.install import install_example

from .conftest import Console, Server, require_browser, screenshot

BROKEN = "import nonexistent_render_farm_sdk  # the plugin's import fails\n"


def broken_plugin(site: Path) -> None:
    """A plugin whose module raises at import, installed as bare metadata on PYTHONPATH."""
    site.mkdir()
    (site / "storm_broken.py").write_text(BROKEN)
    info = site / "storm_broken-0.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: storm-broken\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text("[stormflow.plugins]\nbroken = storm_broken:plugin\n")


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    require_browser()
    install_example()
    broken_plugin(tmp_path / "site")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    srv = Server(tmp_path / "data")
    try:
        yield srv
    finally:
        srv.stop()


def test_the_plugins_page(server: Server, page: tuple[Any, Console], tmp_path: Path) -> None:
    from playwright.sync_api import expect

    pg, console = page
    # an old Blender add-on talks to the server
    seen = server.api.get("/workflows", headers={"X-Storm-Client": "blender-addon/0.0.1"})
    assert seen.status_code == 200

    pg.goto(server.page_url(""))
    pg.get_by_test_id("nav-plugins").click()
    pg.get_by_test_id("plugins-page").wait_for()

    blender = pg.locator('[data-testid="integration"][data-name="blender"]')
    expect(blender).to_have_attribute("data-state", "update")
    expect(blender.get_by_test_id("standing")).to_contain_text("Update available")
    expect(blender.get_by_test_id("standing")).to_contain_text("0.0.1 →")
    expect(blender.get_by_test_id("install-steps")).to_contain_text("Install from Disk")
    expect(blender.get_by_test_id("download")).to_have_attribute(
        "href", "/api/v1/integrations/blender/addon.zip"
    )

    script = pg.locator('[data-testid="integration"][data-name="storm-encode-script"]')
    expect(script).to_have_attribute("data-state", "unseen")
    expect(script).to_contain_text("from storm-ffmpeg")
    with pg.expect_download() as download:
        script.get_by_test_id("download").click()
    saved = tmp_path / "storm_encode.py"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "storm_encode.py"
    assert "def submit(" in saved.read_text()

    ffmpeg = pg.locator('[data-testid="plugin"][data-name="storm-ffmpeg"]')
    expect(ffmpeg).to_have_attribute("data-status", "loaded")
    expect(ffmpeg).to_contain_text("adds 1 kind, 2 rules, 1 integration")
    storm = pg.locator('[data-testid="plugin"][data-name="storm"]')
    expect(storm).to_contain_text("2 notifications")  # email, webhook; the others are kinds
    expect(storm.get_by_text("task", exact=True)).to_have_count(1)
    broken = pg.locator('[data-testid="plugin"][data-name="broken"]')
    expect(broken).to_have_attribute("data-status", "failed")
    expect(broken.get_by_test_id("plugin-error")).to_contain_text(
        "failed in load: ModuleNotFoundError: No module named 'nonexistent_render_farm_sdk'"
    )
    # failed plugins are listed first: they need attention
    first = pg.get_by_test_id("plugin").first
    expect(first).to_have_attribute("data-name", "broken")
    screenshot(pg, tmp_path, "plugins-page")

    # the add-on updated: the page says so on its next load
    server.api.get("/workflows", headers={"X-Storm-Client": "blender-addon/99.0"})
    pg.reload()
    expect(blender).to_have_attribute("data-state", "current")
    console.check()

    # the server stayed up with a broken plugin installed, and answers bad input with JSON
    answer = httpx.get(
        f"{server.url}/api/v1/plugins/integrations/nope/download",
        headers={"Authorization": f"Bearer {server.token}"},
    )
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "unknown-integration"


def test_a_plugin_kind_in_the_composer(server: Server, page: tuple[Any, Console]) -> None:
    """The Composer offers the plugin's kind with a field per parameter; the plugin's fixer
    applies from the validation panel, and the workflow submits and runs to its movie."""
    from playwright.sync_api import expect

    pg, console = page
    doc = {
        "schema": 1,
        "name": "encode",
        "nodes": [
            {"name": "frames", "commands": [["python", "-c", FRAMES]]},
            {"name": "movie", "kind": "ffmpeg", "input": "frames", "output": "movie", "fps": 4},
        ],
        "edges": [["frames", "movie"]],
    }
    draft = server.api.post("/drafts", json=doc).json()
    pg.goto(server.page_url(f"composer/{draft['id']}"))
    node = pg.locator('[data-testid="composer-node"][data-name="movie"]')
    node.click()
    editor = pg.get_by_test_id("node-editor")
    expect(editor.get_by_test_id("field-input")).to_have_value("frames")
    expect(editor.get_by_test_id("field-fps")).to_have_value("4")
    assert "ffmpeg" in editor.get_by_test_id("field-kind").inner_text()
    entry = pg.locator('[data-testid="entry"][data-code="ffmpeg-output"]')
    entry.locator('[data-testid="fixer"][data-fixer="ffmpeg-output-mp4:movie"]').click()
    pg.get_by_test_id("validation-clean").wait_for()
    expect(editor.get_by_test_id("field-output")).to_have_value("movie.mp4")
    pg.wait_for_function("() => !document.querySelector('[data-testid=submit]').disabled")
    pg.get_by_test_id("submit").click()
    pg.wait_for_url(re.compile(r"/ui/workflows/[a-z2-9]{8}"))
    wid = pg.url.rstrip("/").split("/")[-1].split("?")[0]
    pg.get_by_test_id("count-succeeded").get_by_text("2").wait_for(timeout=60_000)
    assert (server.data_dir / "work" / wid / "movie.mp4").stat().st_size > 0
    console.check()


#: Four small PNG frames (Pillow is one of Storm's dependencies).
FRAMES = (
    "from PIL import Image\n"
    "import os\n"
    "os.makedirs('frames', exist_ok=True)\n"
    "for i in range(4): Image.new('RGB', (64, 48), (60 * i, 90, 160)).save(f'frames/{i:04d}.png')"
)
