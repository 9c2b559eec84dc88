"""`storm uploads` and `storm uploader`: the table, pause/resume by WORKFLOW:NODE, bad input
as one line with exit code 2 (nothing stored), and the systemd user unit."""

from __future__ import annotations

import time
from pathlib import Path

from typer.testing import CliRunner

from stormflow.cli.main import app
from stormflow.spec import expand
from stormflow.store import Store

from .conftest import write_random

runner = CliRunner()


def _submit(data: Path, tmp_path: Path) -> str:
    scene = write_random(tmp_path / "scene.ma", 10)
    doc = {
        "schema": 1,
        "name": "shot",
        "nodes": [
            {"name": "up", "kind": "upload", "files": [str(scene)],
             "destination": f"file://{tmp_path}/farm"},
            {"name": "render", "kind": "task", "commands": [["true"]]},
        ],
    }  # fmt: skip
    plan = expand(doc)
    store = Store.default(data)
    try:
        return store.submit(
            plan.nodes, plan.edges, name="shot", metadata={}, actor="t", at=time.time()
        )
    finally:
        store.close()


def test_pause_resume_and_the_table(tmp_path: Path) -> None:
    data = tmp_path / "data"
    wf = _submit(data, tmp_path)
    done = runner.invoke(app, ["uploads", "--data-dir", str(data), "--pause", f"{wf}:up"])
    assert done.exit_code == 0 and f"paused {wf}:up" in done.output
    table = runner.invoke(app, ["uploads", "--data-dir", str(data), "--once"])
    assert table.exit_code == 0 and f"{wf}:up" in table.output and "paused" in table.output
    done = runner.invoke(app, ["uploads", "--data-dir", str(data), "--resume", f"{wf}:up"])
    assert done.exit_code == 0


def test_bad_input_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    wf = _submit(data, tmp_path)
    for target in ("no-colon", f"{wf}:render", f"{wf}:ghost", "nope:up", ":up"):
        done = runner.invoke(app, ["uploads", "--data-dir", str(data), "--pause", target])
        assert done.exit_code == 2, (target, done.output)
        assert done.output.count("\n") == 1 and "error" in done.output
    store = Store.default(data)
    try:
        assert store.uploads(wf) == []
    finally:
        store.close()


def test_install_service_writes_a_systemd_user_unit(tmp_path: Path, monkeypatch: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    data = tmp_path / "data"
    done = runner.invoke(app, ["uploader", "--data-dir", str(data), "--install-service"])
    assert done.exit_code == 0, done.output
    unit = (tmp_path / "config" / "systemd" / "user" / "storm-uploader.service").read_text()
    assert "ExecStart=" in unit and " uploader" in unit
    assert f"STORM_HOME={data.resolve()}" in unit and "WantedBy=default.target" in unit
