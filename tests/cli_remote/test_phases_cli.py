"""`storm show` and `storm run`'s display split running nodes into executing and queued."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from stormflow import core
from stormflow.api.app import create_app
from stormflow.cli import progress
from stormflow.cli.main import app
from stormflow.spec import expand
from stormflow.store import Store
from tests.api.helpers import TOKEN, live_server

WIDE = {
    "schema": 1,
    "name": "wide",
    "nodes": [{"name": f"t{i:02}", "commands": [["true"]]} for i in range(10)],
}


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Store, str, float]]:
    """A workflow of 10 running nodes, 2 of them started (t00 and t01) 30 s ago."""
    store = Store.default(tmp_path / "data")
    plan = expand(WIDE)
    at = time.time() - 30
    wf = store.submit(plan.nodes, plan.edges, name=plan.name, metadata={}, actor="a", at=at)
    names = [f"t{i:02}" for i in range(10)]
    applied = store.transact(wf, lambda v: core.run_ready(v, names, at=at))
    assert applied.outcome is not None
    for name, attempt in applied.outcome.start[:2]:
        token = attempt.token
        store.transact(wf, lambda v, n=name, t=token: core.started(v, n, t, at=at, worker="w"))
    try:
        yield store, wf, at
    finally:
        store.close()


def test_show_says_how_many_execute_and_how_many_wait(
    running: tuple[Store, str, float], tmp_path: Path
) -> None:
    store, wf, _at = running
    with live_server(create_app(store, data_dir=tmp_path / "data", token=TOKEN)) as url:
        args = ["show", wf, "--server", url, "--token", TOKEN]
        shown = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
        data = CliRunner().invoke(app, [*args, "--json"])
    assert shown.exit_code == 0, shown.output
    assert "10 nodes: running 10 (2 executing, 8 queued)" in shown.stdout
    assert "executing: t00, t01" in shown.stdout
    assert "queued: t02, t03, t04, t05, t06, t07, t08, t09" in shown.stdout
    answer = json.loads(data.stdout)
    assert answer["workflow"]["phases"] == {"queued": 8, "executing": 2}
    assert answer["executing"] == ["t00", "t01"] and len(answer["queued"]) == 8


def test_run_display_counts_elapsed_time_from_the_real_start(
    running: tuple[Store, str, float],
) -> None:
    store, wf, _at = running
    snap = progress.read(store, wf, time.time())
    console = Console(width=100, record=True)
    console.print(progress.render(snap))
    text = console.export_text()
    assert "running 10 (2 executing, 8 queued)" in text
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line[:1] == "t"}
    assert rows["t00"][0] == "1" and 29.0 <= float(rows["t00"][1].rstrip("s")) < 100
    assert rows["t02"] == ["1", "queued"]
    assert list(rows)[:2] == ["t00", "t01"]  # the executing ones first
