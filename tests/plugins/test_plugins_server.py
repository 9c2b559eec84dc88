"""A real `storm server` with the example plugin: `storm plugins --remote`, and the last
client version surviving a kill -9 of the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
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


def post(server: Server, path: str, body: object) -> object:
    request = urllib.request.Request(
        server.url + "/api/v1" + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def seen(server: Server, name: str) -> object:
    answer = call(server, "/plugins")
    assert isinstance(answer, dict)
    return next(i for i in answer["integrations"] if i["name"] == name)["last_seen"]


@pytest.mark.slow
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


CHAT = """
from stormflow.kinds import Kind, Param
from stormflow.kinds.base import params
from stormflow.plugins import API_VERSION, Plugin


def room(config, tokens):
    return {"room": config.get("room", "general")}


def post(payload, ctx):
    raise ConnectionError("chat.example refused " + payload["room"])


plugin = Plugin(
    name="storm-chat",
    version="0.2.0",
    api_version=API_VERSION,
    notifications=(
        Kind("chat", "posts to a room", runs="action", payload=room, action=post,
             params=params(Param("room", str, "a string", "room"))),
    ),
)
"""


def chat_plugin(site: Path) -> None:
    """A plugin whose action raises, installed as bare metadata on PYTHONPATH."""
    site.mkdir()
    (site / "storm_chat.py").write_text(CHAT)
    info = site / "storm_chat-0.2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: storm-chat\nVersion: 0.2.0\n")
    (info / "entry_points.txt").write_text("[stormflow.plugins]\nchat = storm_chat:plugin\n")


@pytest.mark.slow
def test_a_plugin_failing_in_the_scheduler_child_shows_failed_on_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The action runs in the server's scheduler process: the failure reaches the plugins
    answer through the child's figures, the node fails alone, the next workflow runs."""
    chat_plugin(tmp_path / "site")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    running = run_server(tmp_path / "home")
    server = next(running)
    try:
        before = {p["name"]: p for p in call(server, "/plugins")["plugins"]}  # type: ignore[index]
        assert before["storm-chat"]["status"] == "loaded"
        doc = {
            "schema": 1,
            "name": "notify",
            "nodes": [
                {"name": "ok", "commands": [["true"]]},
                {"name": "tell", "kind": "chat", "room": "lighting"},
            ],
            "edges": [["ok", "tell"]],
        }
        post(server, "/workflows", doc)

        def failed() -> object:
            plugins = {p["name"]: p for p in call(server, "/plugins")["plugins"]}  # type: ignore[index]
            return plugins["storm-chat"] if plugins["storm-chat"]["status"] == "failed" else None

        chat = wait_for(failed)
        assert chat["failed_in"] == "action post (chat) (in the scheduler)"  # type: ignore[index]
        assert "ConnectionError: chat.example refused lighting" in chat["error"]  # type: ignore[index]
        # the scheduler goes on
        post(server, "/workflows", {**doc, "name": "next", "nodes": doc["nodes"][:1], "edges": []})

        def statuses() -> dict[str, str] | None:
            items = call(server, "/workflows")["items"]  # type: ignore[index]
            found = {w["name"]: w["status"] for w in items}
            return found if "running" not in found.values() else None

        assert wait_for(statuses) == {"notify": "failed", "next": "succeeded"}
    finally:
        running.close()


def test_storm_plugins_check_fails_when_a_plugin_failed(tmp_path: Path) -> None:
    from tests.client.serverproc import STORM, clean_env

    site = tmp_path / "site"
    site.mkdir()
    (site / "storm_old.py").write_text(
        "from stormflow.plugins import Plugin\nplugin = Plugin('storm-old', '1', api_version=0)\n"
    )
    info = site / "storm_old-1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: storm-old\nVersion: 1\n")
    (info / "entry_points.txt").write_text("[stormflow.plugins]\nold = storm_old:plugin\n")
    env = {**clean_env(tmp_path), "PYTHONPATH": str(site)}
    shown = subprocess.run(
        [STORM, "plugins", "storm-old", "--check"], capture_output=True, text=True, env=env,
        timeout=60,
    )  # fmt: skip
    assert shown.returncode == 1
    assert "storm-old 1  failed" in shown.stdout
    assert "failed in load: written for plugin API version 0" in shown.stdout
    assert shown.stderr == "storm: plugins failed: storm-old\n"
    fine = subprocess.run(
        [STORM, "plugins", "storm", "--check"], capture_output=True, text=True, env=env,
        timeout=60,
    )  # fmt: skip
    assert fine.returncode == 0, fine.stderr


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
