"""The web UI end to end, in headless Chromium against a real `storm server`.

Composer: open a draft created through the API, fix a validation error with its
fixer, submit. Monitor: hold and skip from the action bar; select every failed
chunk with the filter, change their instance type with "update", see them and their
downstream retried; open a node's history and see the snapshot. Screenshots of
every view go to the test's tmp dir (and docs/screenshots with STORM_UI_SCREENSHOTS=1).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import Console, Server, screenshot

pytestmark = pytest.mark.slow


def pipeline(flag: Path) -> dict[str, Any]:
    """render.5-6 and render.7-8 fail until `flag` exists; `instnce_type` is a typo with a fixer."""
    check = (
        "import os, sys; start = int(sys.argv[1]);"
        f" sys.exit(1 if start >= 5 and not os.path.exists({str(flag)!r}) else 0)"
    )
    py = sys.executable
    return {
        "schema": 1,
        "name": "ui_e2e",
        "metadata": {"owner": "ann"},
        "nodes": [
            {"name": "simulate", "commands": [[py, "-c", "pass"]]},
            {
                "name": "render",
                "frames": "1-8",
                "chunk_size": 2,
                "instnce_type": "cpu-8",
                "commands": [[py, "-c", check, "{start}"]],
            },
            {"name": "comp", "frames": "1-8", "chunk_size": 2, "commands": [[py, "-c", "pass"]]},
            {"name": "encode", "commands": [[py, "-c", "pass"]]},
        ],
        "edges": [["simulate", "render"], ["render", "comp"], ["comp", "encode"]],
    }


def wait_until(fn: Any, timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def statuses(srv: Server, wid: str) -> dict[str, str]:
    g = srv.api.get(f"/workflows/{wid}/graph").json()
    return dict(zip(g["nodes"]["name"], g["nodes"]["status"], strict=True))


def node_in_list(pg: Any, name: str) -> Any:
    return pg.locator(f'[data-testid="list-row"][data-name="{name}"]')


def test_composer_fix_submit_then_monitor_actions(
    storm_server: Server, page: tuple[Any, Console], tmp_path: Path
) -> None:
    from playwright.sync_api import expect  # here: the module is collected without playwright

    srv = storm_server
    pg, console = page
    flag = tmp_path / "fixed"
    draft = srv.api.post("/drafts", json=pipeline(flag))
    assert draft.status_code == 201, draft.text
    d = draft.json()
    assert any(e["code"] == "unknown-param" for e in d["entries"])

    # --- Composer: the draft as one block per authored node, with its chunk count.
    pg.goto(srv.page_url(f"composer/{d['id']}"))
    pg.get_by_test_id("composer").wait_for()
    assert pg.get_by_test_id("composer-node").count() == 4
    render = pg.locator('[data-testid="composer-node"][data-name="render"]')
    expect(render).to_contain_text("4 chunks")  # waits: the flow renders nodes in two passes
    render.get_by_test_id("chunk-toggle").click()
    expect(render.get_by_test_id("chunk-list")).to_contain_text("render.7-8")
    # token kept in sessionStorage, dropped from the address bar
    assert "token=" not in pg.url

    submit = pg.get_by_test_id("submit")
    entry = pg.locator('[data-testid="entry"][data-code="unknown-param"]')
    entry.wait_for()
    assert submit.is_disabled()
    # clicking the entry selects the node concerned
    entry.locator(".entry-msg").click()
    pg.wait_for_function(
        '() => document.querySelector(\'[data-testid="composer-node"][data-name="render"]\')'
        ".closest('.react-flow__node').classList.contains('selected')"
    )
    # batch edit: select both frame-ranged nodes, the panel marks mixed values
    pg.get_by_test_id("select-frames").select_option("ranged")
    pg.get_by_test_id("node-editor").get_by_text("2 nodes").wait_for()
    assert pg.get_by_test_id("mixed-commands").count() == 1
    screenshot(pg, tmp_path, "composer")

    fixer = entry.locator('[data-testid="fixer"][data-fixer^="rename-param"]')
    fixer.click()
    pg.get_by_test_id("validation-clean").wait_for()
    pg.wait_for_function("() => !document.querySelector('[data-testid=submit]').disabled")
    submit.click()
    pg.wait_for_url(re.compile(r"/ui/workflows/[a-z2-9]{8}"))
    wid = pg.url.rstrip("/").split("/")[-1].split("?")[0]
    doc = srv.api.get(f"/workflows/{wid}/nodes/render.1-2").json()
    assert doc["current"]["instance_type"] == "cpu-8"

    # --- Monitor: wait for the two failing chunks.
    pg.get_by_test_id("monitor").wait_for()
    pg.get_by_test_id("count-failed").get_by_text("2").wait_for(timeout=60_000)
    wait_until(lambda: statuses(srv, wid)["render.5-6"] == "failed", 60, "render.5-6 failed")
    pg.get_by_test_id("view-both").click()
    node_in_list(pg, "render.7-8").wait_for()
    screenshot(pg, tmp_path, "monitor")

    # Hold and skip encode (open, waiting behind the failures) from the action bar.
    glob = pg.get_by_test_id("filter-glob")
    glob.fill("[z-a]")  # an invalid pattern (reversed range) matches nothing, and says so
    assert pg.get_by_test_id("select-matching").inner_text() == "Select 0 matching"
    assert glob.get_attribute("aria-invalid") == "true"
    glob.fill("encode")
    assert glob.get_attribute("aria-invalid") == "false"
    pg.get_by_test_id("select-matching").click()
    assert pg.get_by_test_id("selection-count").inner_text() == "1 selected"
    assert pg.get_by_test_id("action-cancel").is_disabled()
    pg.get_by_test_id("action-hold").click()
    pg.get_by_test_id("answer-changed").get_by_text("1 changed").wait_for()
    node_in_list(pg, "encode").and_(pg.locator('[data-status="holding"]')).wait_for()
    pg.keyboard.press("s")  # the skip shortcut
    node_in_list(pg, "encode").and_(pg.locator('[data-status="skipped"]')).wait_for()
    assert statuses(srv, wid)["encode"] == "skipped"

    # Select every failed chunk with the filter; update their instance type.
    glob.fill("render.*")
    pg.get_by_test_id("filter-status").select_option("failed")
    pg.get_by_test_id("select-matching").get_by_text("Select 2 matching").click()
    assert pg.get_by_test_id("action-retry").inner_text().endswith("2")
    pg.get_by_test_id("action-edit").click()
    dialog = pg.get_by_test_id("edit-dialog")
    dialog.get_by_test_id("edit-warning").wait_for()
    field = dialog.get_by_test_id("edit-instance_type")
    pg.wait_for_function(
        "() => document.querySelector('[data-testid=\"edit-instance_type\"]')?.value === 'cpu-8'"
    )
    field.fill("mem-64")
    screenshot(pg, tmp_path, "monitor-edit")
    flag.write_text("ok")
    dialog.get_by_test_id("update").click()
    # two nodes: a confirmation says what will happen (the cascade included); Enter confirms
    confirm = pg.get_by_test_id("confirm-dialog")
    confirm.wait_for()
    text = pg.get_by_test_id("confirm-text").inner_text()
    assert text.startswith("Update 2 nodes: 2 updated"), text
    assert "downstream reset" in text and "(snapshots kept)" in text, text
    # the selection was made by a query: it is sent as that query, resolved now
    assert "status failed, name render.*" in pg.get_by_test_id("confirm-query").inner_text()
    pg.keyboard.press("Enter")
    answer = pg.get_by_test_id("answer")
    answer.get_by_text("2 selected").wait_for()
    # both failed chunks changed (the answer counts the cascaded nodes as changed too)
    answer.get_by_role("button", name="details").click()
    assert "render.5-6" in answer.inner_text() and "render.7-8" in answer.inner_text()
    # encode was skipped (retryable): the cascade sends it back to open
    pg.get_by_test_id("answer-cascaded").get_by_text(re.compile(r"[1-9]\d* cascaded")).wait_for()

    final = wait_until(
        lambda: (s := statuses(srv, wid))["encode"] == "succeeded" and s,
        90,
        "the workflow to finish",
    )
    assert final["render.5-6"] == final["render.7-8"] == final["comp.7-8"] == "succeeded"
    assert srv.api.get(f"/workflows/{wid}/nodes/render.5-6").json()["current"]["instance_type"] == (
        "mem-64"
    )
    glob.fill("")
    pg.get_by_test_id("filter-status").select_option("")
    pg.get_by_role("button", name="Clear filter").click()
    pg.get_by_test_id("count-succeeded").get_by_text(str(len(final))).wait_for(timeout=30_000)
    pg.locator('[data-testid="wf-status"].s-succeeded').wait_for()

    # History of a retried chunk: current, the snapshot, base; diff.
    node_in_list(pg, "render.5-6").click()
    panel = pg.get_by_test_id("node-panel")
    panel.get_by_test_id("tab-history").click()
    snap = panel.get_by_test_id("history-snap")
    snap.first.wait_for()
    assert "update" in snap.first.inner_text()
    assert "failed" in snap.first.inner_text()
    panel.get_by_test_id("diff").get_by_text("instance_type").wait_for()
    screenshot(pg, tmp_path, "monitor-history")
    panel.get_by_test_id("tab-attempts").click()
    panel.get_by_test_id("attempts").locator("tbody tr").first.wait_for()

    # The workflow list.
    pg.goto(srv.page_url(""))
    row = pg.locator(f'[data-testid="wf-row"][data-id="{wid}"]')
    row.wait_for()
    assert "succeeded" in row.inner_text()
    screenshot(pg, tmp_path, "workflows")
    console.check()


def test_monitor_graph_selection_and_shortcuts(
    storm_server: Server, page: tuple[Any, Console], tmp_path: Path
) -> None:
    """Graph clicks select; groups collapse into one block; shortcuts; ineligible nodes listed."""
    srv = storm_server
    pg, console = page
    py = sys.executable
    doc = {
        "schema": 1,
        "name": "held",
        "nodes": [
            {"name": "a", "status": "holding", "commands": [[py, "-c", "pass"]]},
            {"name": "b", "frames": "1-40", "chunk_size": 1, "commands": [[py, "-c", "pass"]]},
        ],
        "edges": [["a", "b"]],
    }
    r = srv.api.post("/workflows", json=doc)
    assert r.status_code == 201, r.text
    wid = r.json()["id"]
    pg.goto(srv.page_url(f"workflows/{wid}"))
    pg.get_by_test_id("monitor").wait_for()
    pg.locator('[data-testid="graph-node"][data-name="a"]').click()
    assert pg.get_by_test_id("selection-count").inner_text() == "1 selected"
    assert pg.get_by_test_id("action-unhold").is_enabled()
    assert pg.get_by_test_id("action-hold").is_disabled()
    pg.keyboard.press("a")
    assert pg.get_by_test_id("selection-count").inner_text() == "41 selected"
    pg.get_by_test_id("action-hold").click()  # 40 open chunks held, a is ineligible
    pg.get_by_test_id("answer-ineligible").get_by_text("1 ineligible").wait_for()
    pg.get_by_test_id("toggle-groups").click()
    group = pg.locator('[data-testid="group-node"][data-group="b"]')
    group.wait_for()
    assert "40 holding" in group.inner_text()
    screenshot(pg, tmp_path, "monitor-groups")
    pg.keyboard.press("Escape")
    assert pg.get_by_test_id("selection-count").inner_text() == "0 selected"
    console.check()


def test_a_workflows_time_to_live_shows_then_its_expiry(
    storm_server: Server, page: tuple[Any, Console]
) -> None:
    srv = storm_server
    pg, console = page
    doc = {
        "schema": 1,
        "name": "shortlived",
        "ttl": 2,
        "nodes": [{"name": "a", "status": "holding", "commands": [[sys.executable, "-c", "pass"]]}],
    }
    r = srv.api.post("/workflows", json=doc)
    assert r.status_code == 201, r.text
    wid = r.json()["id"]
    pg.goto(srv.page_url(f"workflows/{wid}"))
    pg.get_by_test_id("monitor").wait_for()
    assert "expires in" in pg.get_by_test_id("wf-expires").inner_text()
    deadline = time.monotonic() + 10
    while not srv.api.get(f"/workflows/{wid}").json()["expired"]:
        assert time.monotonic() < deadline, "the workflow never expired"
        time.sleep(0.2)
    pg.goto(srv.page_url(f"workflows/{wid}"))
    pg.get_by_test_id("wf-expired").wait_for()
    pg.goto(srv.page_url(""))
    pg.locator(f'[data-testid="wf-row"][data-id="{wid}"] [data-testid="wf-expired"]').wait_for()
    console.check()


def test_a_yaml_file_dropped_on_the_list_opens_in_the_composer(
    storm_server: Server, page: tuple[Any, Console]
) -> None:
    srv = storm_server
    pg, console = page
    pg.goto(srv.page_url(""))
    listing = pg.get_by_test_id("workflow-list")
    listing.wait_for()

    def drop(name: str, text: str) -> None:
        transfer = pg.evaluate_handle(
            """([name, text]) => {
                const dt = new DataTransfer();
                dt.items.add(new File([text], name, {type: "application/yaml"}));
                return dt;
            }""",
            [name, text],
        )
        listing.dispatch_event("drop", {"dataTransfer": transfer})

    drop("broken.yaml", "name: [unclosed\n")
    pg.locator(".err").get_by_text("broken.yaml: cannot parse the document at line 2").wait_for()
    # the browser logs the refused request itself (422): expected here, nothing else is
    assert all("422" in e for e in console.errors), console.errors
    console.errors.clear()
    drop(
        "shot.yaml",
        "name: dropped\ndefaults: &d {retries: 1}\n"
        "nodes:\n  - {name: render, <<: *d, commands: [[echo, hi]]}\n",
    )
    pg.get_by_test_id("composer").wait_for()
    pg.locator('[data-testid="composer-node"][data-name="render"]').wait_for()
    console.check()
