"""The template library in headless Chromium: a stored template's params make a form that
refuses a missing or ill-typed value and submits the workflow; the Composer stores its
document as a template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Console, Server, screenshot

pytestmark = pytest.mark.slow

SHOT: dict[str, Any] = {
    "name": "shot-${shot}",
    "metadata": {"description": "one shot"},
    "params": {
        "shot": {"type": "string", "description": "shot name"},
        "chunk": {"type": "int", "default": 2},
        "quality": {"type": "choice", "choices": ["draft", "final"], "default": "draft"},
    },
    "nodes": [
        {
            "name": "render",
            "frames": "1-4",
            "chunk_size": "${chunk}",
            "commands": [["echo", "${shot}", "${quality}", "{start}"]],
        }
    ],
    "edges": [],
}


def test_the_composer_stores_a_template_whose_form_submits_a_workflow(
    storm_server: Server, page: tuple[Any, Console], tmp_path: Path
) -> None:
    srv = storm_server
    pg, console = page
    # the Composer: a draft holding a template, stored as one under the name typed
    draft = srv.api.post("/drafts", json=SHOT).json()
    pg.on("dialog", lambda dialog: dialog.accept("shot"))
    pg.goto(srv.page_url(f"composer/{draft['id']}"))
    pg.get_by_test_id("composer").wait_for()
    pg.get_by_test_id("validation-clean").wait_for()
    pg.get_by_test_id("save-template").click()
    pg.wait_for_url("**/ui/templates/shot*")
    assert srv.api.get("/templates/shot").json()["document"] == SHOT
    # the library lists it; its form starts on the defaults and checks what is typed
    pg.goto(srv.page_url(""))
    pg.get_by_test_id("templates-link").click()
    pg.locator('[data-testid="template-item"][data-name="shot"]').click()
    pg.get_by_test_id("template-form").wait_for()
    assert pg.get_by_test_id("param-chunk").input_value() == "2"
    assert pg.get_by_test_id("param-quality").input_value() == "draft"
    submit = pg.get_by_test_id("template-submit")
    pg.get_by_test_id("problem-shot").get_by_text("shot needs a value").wait_for()
    assert submit.is_disabled()
    pg.get_by_test_id("param-shot").fill("sh010")
    pg.get_by_test_id("param-chunk").fill("two")
    pg.get_by_test_id("problem-chunk").get_by_text("chunk must be a whole number").wait_for()
    assert submit.is_disabled()
    pg.get_by_test_id("param-chunk").fill("4")
    pg.get_by_test_id("param-quality").select_option("final")
    pg.wait_for_function(
        "() => !document.querySelector('[data-testid=\"template-submit\"]').disabled"
    )
    screenshot(pg, tmp_path, "template-form")
    submit.click()
    pg.wait_for_url("**/ui/workflows/**")
    (wf,) = srv.api.get("/workflows").json()["items"]
    assert wf["name"] == "shot-sh010"
    nodes = srv.api.get(f"/workflows/{wf['id']}/nodes").json()["items"]
    assert [n["name"] for n in nodes] == ["render.1-4"]
    console.check()
