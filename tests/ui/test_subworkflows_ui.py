"""Sub-workflows in the Monitor (issue 15), in headless Chromium against a real `storm server`:
a `workflow` node shows its child's status bar, a double-click (graph or list) opens the
child, whose breadcrumb leads back to the parent; the parent's header rolls counts up; the
workflow list hides sub-workflows unless asked."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import Console, Server, screenshot

pytestmark = pytest.mark.slow
PY = sys.executable

#: a -> b, with b holding: the child stops holding, so its status bar stays still
SHOT: dict[str, Any] = {
    "schema": 1,
    "name": "shot",
    "params": {"shot": {"type": "string"}},
    "nodes": [
        {"name": "a", "commands": [[PY, "-c", "print('${shot}')"]]},
        {"name": "b", "status": "holding", "commands": [[PY, "-c", "pass"]]},
    ],
    "edges": [["a", "b"]],
}
SEQUENCE: dict[str, Any] = {
    "schema": 1,
    "name": "seq_ui",
    "nodes": [
        {"name": "intro", "kind": "workflow", "template": SHOT, "params": {"shot": "intro"}},
        {
            "name": "shots",
            "kind": "workflow",
            "template": SHOT,
            "for_each": [{"shot": "sh010"}, {"shot": "sh020"}],
            "key": "shot",
        },
        {"name": "edit", "commands": [[PY, "-c", "pass"]]},
    ],
    "edges": [["intro", "edit"], ["shots", "edit"]],
}


def held_children(srv: Server, wid: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60  # a loaded CI machine: the server's 2 slots run 3 sims
    while True:
        children = srv.api.get(f"/workflows/{wid}/children").json()
        if len(children) == 3 and all(c["status"] == "holding" for c in children):
            return list(children)
        assert time.monotonic() < deadline, f"children never held: {children}"
        time.sleep(0.2)


def test_the_monitor_drills_down_into_a_child_and_back(
    storm_server: Server, page: tuple[Any, Console], tmp_path: Path
) -> None:
    srv = storm_server
    pg, console = page
    missing: list[str] = []
    pg.on("response", lambda resp: resp.status == 404 and missing.append(resp.url))
    r = srv.api.post("/workflows", json=SEQUENCE)
    assert r.status_code == 201, r.text
    wid = r.json()["id"]
    children = {c["node"]: c["workflow_id"] for c in held_children(srv, wid)}
    assert srv.api.get(f"/workflows/{wid}").json()["status"] == "holding"

    # the list hides sub-workflows by default
    pg.goto(srv.page_url(""))
    pg.locator(f'[data-testid="wf-row"][data-id="{wid}"]').wait_for()
    assert pg.locator(f'[data-testid="wf-row"][data-id="{children["intro"]}"]').count() == 0
    pg.get_by_test_id("wf-show-children").check()
    pg.locator(f'[data-testid="wf-row"][data-id="{children["intro"]}"]').wait_for()

    # the parent: a status bar per workflow node, the rolled-up header, holding
    pg.goto(srv.page_url(f"workflows/{wid}"))
    pg.get_by_test_id("monitor").wait_for()
    bar = pg.locator('[data-testid="graph-node"][data-name="intro"] [data-testid="child-bar"]')
    bar.wait_for()
    assert bar.get_attribute("data-child") == children["intro"]
    assert bar.get_attribute("data-child-status") == "holding"
    progress = '[data-testid="graph-node"][data-name="intro"] [data-testid="child-progress"]'
    assert pg.locator(progress).inner_text() == "1/2"
    assert pg.get_by_test_id("wf-status").inner_text() == "holding"
    # its attempt follows a child that runs: executing, not queued
    assert (
        pg.locator('[data-testid="graph-node"][data-name="intro"]').get_attribute("data-phase")
        == "executing"
    )
    # 3 children of 2 nodes each (3 ready) and edit (open): 3 of 7 ready at every depth
    assert pg.get_by_test_id("rollup").inner_text() == "all levels 3/7"
    screenshot(pg, tmp_path, "monitor-subworkflows")

    # double-click the graph node: the child opens, with a breadcrumb back
    pg.locator('[data-testid="graph-node"][data-name="intro"]').dblclick()
    pg.wait_for_url(f"**/workflows/{children['intro']}*")
    crumb = pg.get_by_test_id("crumb-parent")
    crumb.wait_for()
    assert crumb.get_attribute("data-id") == wid
    assert "intro" in pg.get_by_test_id("breadcrumb").inner_text()
    assert pg.get_by_test_id("wf-name").inner_text() == "seq_ui/intro"
    crumb.click()
    pg.wait_for_url(f"**/workflows/{wid}*")
    pg.get_by_test_id("monitor").wait_for()

    # the list view: a for_each shot's row has its bar and opens its child the same way
    pg.get_by_test_id("view-list").click()
    row = pg.locator('[data-testid="list-row"][data-name="shots.sh020"]')
    row.locator('[data-testid="child-bar"]').wait_for()
    row.dblclick()
    pg.wait_for_url(f"**/workflows/{children['shots.sh020']}*")
    pg.get_by_test_id("breadcrumb").wait_for()
    assert missing == []
    console.check()
