"""The DCC client (stdlib, Python 3.7): upload nodes from a file list, handed to the local
`storm uploader`, which it starts on first use."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from stormflow import client as dcc
from stormflow.spec import Severity, validate

from .conftest import write_random


def test_upload_nodes_from_a_file_list_validate_clean(tmp_path: Path) -> None:
    scene = write_random(tmp_path / "proj" / "scene.ma", 10)
    tex = write_random(tmp_path / "proj" / "tex" / "a.exr", 10)
    wf = dcc.Workflow("shot")
    up = wf.upload("send", [str(scene), str(tex)], f"file://{tmp_path}/farm",
                   root=str(tmp_path / "proj"), max_rate=1e6)  # fmt: skip
    render = wf.task("render", [["render", f"{tmp_path}/farm/scene.ma"]])
    up >> render
    doc = wf.to_dict()
    node = doc["nodes"][0]
    assert node["kind"] == "upload" and node["host"] == socket.gethostname()
    assert node["files"] == [str(scene), str(tex)]
    assert [e for e in validate(doc) if e.severity is not Severity.INFO] == []


def test_ensure_uploader_starts_the_daemon_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    command = [sys.executable, "-m", "stormflow.cli.main", "uploader", "--data-dir", str(home)]
    pid = dcc.ensure_uploader(command, home=str(home), wait=20)
    try:
        assert dcc.uploader_pid(str(home)) == pid
        assert dcc.ensure_uploader(command, home=str(home)) == pid  # not a second one
    finally:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while dcc.uploader_pid(str(home)) is not None:
        assert time.monotonic() < deadline, "the uploader did not stop"
        time.sleep(0.05)
    assert not (home / dcc.UPLOADER_PID).exists()


def test_a_missing_storm_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(dcc.StormError) as caught:
        dcc.ensure_uploader(home=str(tmp_path / "home"))
    assert caught.value.code == "no-uploader"
