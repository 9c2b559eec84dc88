"""A real `storm server` with the example plugin: `storm plugins --remote`, and the last
client version surviving a kill -9 of the server."""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from pathlib import Path

import pytest

from tests.client.serverproc import Server, run_server, wait_for
from tests.plugins.install import install_example


def call(server: Server, path: str, client: str | None = None) -> object:
    headers = {"Authorization": f"Bearer {server.token}"}
    if client:
        headers["X-Storm-Client"] = client
    request = urllib.request.Request(server.url + "/api/v1" + path, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def seen(server: Server, name: str) -> object:
    answer = call(server, "/plugins")
    assert isinstance(answer, dict)
    return next(i for i in answer["integrations"] if i["name"] == name)["last_seen"]


def test_remote_plugins_and_client_versions_outlive_a_kill(tmp_path: Path) -> None:
    install_example()
    home = tmp_path / "home"
    first = run_server(home)
    server = next(first)
    try:
        call(server, "/workflows", client="storm-encode/0.0.9")
        shown = server.storm("plugins", "--remote", "storm-encode-script")
        assert shown.returncode == 0, shown.stderr
        assert "last seen 0.0.9  update available" in shown.stdout
        assert "download: /api/v1/plugins/integrations/storm-encode-script/download" in shown.stdout
        bad = server.storm("plugins", "--remote", "nope")
        assert bad.returncode == 2 and bad.stderr.startswith("storm: error: no plugin or DCC")
        pid = json.loads((home / "server.json").read_text())["pid"]
        os.killpg(os.getpgid(pid), signal.SIGKILL)  # the server's own group (its session)
    finally:
        first.close()  # nothing left to stop: the generator's cleanup finds it dead

    second = run_server(home)
    server = next(second)
    try:
        last = wait_for(lambda: seen(server, "storm-encode-script"))
        assert isinstance(last, dict) and last["version"] == "0.0.9"
    finally:
        second.close()


def test_remote_plugins_without_a_server_is_one_line(tmp_path: Path) -> None:
    import subprocess

    from tests.client.serverproc import STORM, clean_env

    env = clean_env(tmp_path)
    shown = subprocess.run(
        [STORM, "plugins", "--server", "http://127.0.0.1:9"], capture_output=True, text=True,
        env=env, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 2 and shown.stdout == ""
    assert shown.stderr.startswith("storm: error: cannot reach the Storm server")
    assert shown.stderr.count("\n") == 1


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
