"""Finding the server and its token, without a server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stormflow.client import Client


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("STORM_SERVER", "STORM_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("STORM_HOME", str(tmp_path))
    (tmp_path / "server.json").write_text(json.dumps({"url": "http://10.0.0.5:8765", "pid": 1}))
    (tmp_path / "token").write_text("secret\n")
    return tmp_path


def test_server_json_and_token_file(home: Path) -> None:
    client = Client()
    assert (client.root, client.base) == ("http://10.0.0.5:8765", "http://10.0.0.5:8765/api/v1")
    assert client.token == "secret"


def test_the_token_file_is_not_sent_to_another_server(home: Path) -> None:
    assert Client(url="http://farm.example:8765").token is None
    assert Client(url="10.0.0.5:8765/api/v1").token == "secret"  # same server, other spelling
    assert Client(url="http://127.0.0.1:9999").token == "secret"  # this machine
    assert Client(url="http://farm.example:8765", token="t").token == "t"


def test_environment_wins(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORM_SERVER", "farm.example:8765")
    monkeypatch.setenv("STORM_TOKEN", "envtoken")
    client = Client()
    assert (client.root, client.token) == ("http://farm.example:8765", "envtoken")
