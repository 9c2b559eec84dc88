"""GET /api/v1/plugins, integration downloads, and X-Storm-Client versions ("update
available"), over SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stormflow.plugins import loader
from stormflow.store import Store
from tests.api.helpers import API, TOKEN, client

from .conftest import Load


def _api(store: Store, tmp_path: Path, load: Load) -> Iterator[TestClient]:
    load("good", "old_api")
    data = tmp_path / "data"
    data.mkdir()
    with client(store, data) as c:
        yield c


@pytest.fixture
def api(tmp_path: Path, load: Load) -> Iterator[TestClient]:
    """Over SQLite: for what reads no more than the store's one row."""
    store = Store(f"sqlite:///{tmp_path}/storm.db")
    try:
        yield from _api(store, tmp_path, load)
    finally:
        store.close()


@pytest.fixture
def stored_api(store: Store, tmp_path: Path, load: Load) -> Iterator[TestClient]:
    """Over SQLite and PostgreSQL: for what writes the store."""
    yield from _api(store, tmp_path, load)


def integrations(api: TestClient) -> dict[str, dict[str, object]]:
    answer = api.get(f"{API}/plugins")
    assert answer.status_code == 200, answer.text
    return {i["name"]: i for i in answer.json()["integrations"]}


def test_the_plugins_answer_lists_health_and_what_each_adds(api: TestClient) -> None:
    answer = api.get(f"{API}/plugins").json()
    assert answer["api_version"] == 1
    plugins = {p["name"]: p for p in answer["plugins"]}
    assert answer["plugins"][0]["name"] == "storm" and plugins["storm"]["builtin"]
    good = plugins["fake-good"]
    assert (good["status"], good["error"], good["adds"]["kinds"]) == (
        "loaded",
        None,
        ["fake_echo"],
    )
    assert good["adds"]["providers"] == ["fake-farm"]
    old = plugins["fake-old"]
    assert (old["status"], old["failed_in"]) == ("failed", "load")
    assert "plugin API version 99" in old["error"]
    found = integrations(api)
    assert found["blender"]["plugin"] == "storm" and found["blender"]["client"] == "blender-addon"
    assert found["fake-dcc"]["download_url"] == "https://example.com/fake.zip"
    assert found["fake-dcc"]["install"] == ["Unzip it."]
    assert found["fake-dcc"]["last_seen"] is None and not found["fake-dcc"]["update_available"]


def test_an_older_client_version_means_update_available(
    stored_api: TestClient, store: Store
) -> None:
    api = stored_api
    assert api.get(f"{API}/workflows", headers={"X-Storm-Client": "fake-addon/1.9.3"}).is_success
    dcc = integrations(api)["fake-dcc"]
    assert dcc["last_seen"]["version"] == "1.9.3"  # type: ignore[index]
    assert dcc["update_available"] is True  # 1.9.3 < 2.0.0
    api.get(f"{API}/workflows", headers={"X-Storm-Client": "fake-addon/2.0.0"})
    dcc = integrations(api)["fake-dcc"]
    assert dcc["last_seen"]["version"] == "2.0.0"  # type: ignore[index]
    assert dcc["update_available"] is False
    # kept in the store: a server started afresh on it (after a kill -9) still knows
    again = Store(str(store.engine.url.render_as_string(hide_password=False)))
    try:
        assert again.clients_seen()["fake-dcc"].version == "2.0.0"
    finally:
        again.close()


@pytest.mark.parametrize(
    "header",
    ["fake-addon", "fake-addon/", "/1.0", "fake-addon/1.0 extra", "unknown-addon/1.0", "x" * 300],
)
def test_a_malformed_or_unknown_client_header_is_ignored(api: TestClient, header: str) -> None:
    answer = api.get(f"{API}/workflows", headers={"X-Storm-Client": header})
    assert answer.status_code == 200
    assert integrations(api)["fake-dcc"]["last_seen"] is None


def test_without_the_token_nothing_is_recorded(api: TestClient) -> None:
    answer = api.get(
        f"{API}/workflows", headers={"X-Storm-Client": "fake-addon/1.0", "Authorization": "no"}
    )
    assert answer.status_code == 401
    assert api.get(f"{API}/health", headers={"X-Storm-Client": "fake-addon/1.0"}).is_success
    assert integrations(api)["fake-dcc"]["last_seen"] is None


def test_many_clients_at_once_leave_one_record(stored_api: TestClient) -> None:
    """More callers than the pool holds, each a different version: no error, one row."""
    api = stored_api
    errors: list[str] = []

    def call(i: int) -> None:
        answer = api.get(f"{API}/limits", headers={"X-Storm-Client": f"fake-addon/1.{i}"})
        if answer.status_code != 200:
            errors.append(answer.text)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    seen = integrations(api)["fake-dcc"]["last_seen"]
    assert seen is not None and seen["version"].startswith("1.")  # type: ignore[index]


def test_downloads(api: TestClient, tmp_path: Path, load: Load) -> None:
    # a URL download redirects
    answer = api.get(f"{API}/plugins/integrations/fake-dcc/download", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (
        307,
        "https://example.com/fake.zip",
    )
    # a file download is served under its file name
    script = tmp_path / "tool.py"
    script.write_text("print('hi')\n")
    from stormflow.plugins import DccIntegration

    loader._INTEGRATIONS["fake-file"] = (
        "fake-good",
        DccIntegration("fake-file", "Fake file", "1", download=script, filename="tool.py"),
    )
    try:
        answer = api.get(f"{API}/plugins/integrations/fake-file/download")
        assert answer.status_code == 200 and answer.content == b"print('hi')\n"
        assert 'filename="tool.py"' in answer.headers["content-disposition"]
        script.unlink()
        missing = api.get(f"{API}/plugins/integrations/fake-file/download")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "download-missing")
    finally:
        loader._INTEGRATIONS.pop("fake-file", None)


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [("no-such-dcc", 404, "unknown-integration"), ("x" * 65, 422, None)],
)
def test_a_bad_download_name_is_a_clear_error(
    api: TestClient, name: str, status: int, code: str | None
) -> None:
    answer = api.get(f"{API}/plugins/integrations/{name}/download")
    assert answer.status_code == status
    body = answer.json()["error"]
    if code:
        assert body["code"] == code and "no DCC integration 'no-such-dcc'" in body["message"]


def test_the_token_is_required(api: TestClient) -> None:
    wrong = {"Authorization": f"Bearer x{TOKEN}"}
    assert api.get(f"{API}/plugins", headers=wrong).status_code == 401


def test_kinds_list_plugin_kinds_with_a_form_field_per_parameter(api: TestClient) -> None:
    answer = api.get(f"{API}/kinds")
    assert answer.status_code == 200
    kinds = {k["name"]: k for k in answer.json()}
    echo = kinds["fake_echo"]
    assert (echo["provider"], echo["runs"], echo["frame_ranged"]) == (
        "fake-good",
        "commands",
        False,
    )
    (text,) = echo["params"]
    assert text | {"description": ""} == {
        "name": "text",
        "expected": "a string",
        "description": "",
        "required": True,
        "default": None,
        "field": "text",
        "options": [],
    }
    task = {p["name"]: p["field"] for p in kinds["task"]["params"]}
    assert (task["env"], task["limits"], task["retries"], task["commands"]) == (
        "kv",
        "list",
        "int",
        None,  # argv lists or shell lines: edited by the Composer's own field
    )
    assert "fake_old" not in kinds  # refused plugins add nothing
