"""GET /api/v1/integrations/blender/addon.zip: the add-on a user installs, built from the
repository's integrations/blender with Storm's client vendored into it."""

from __future__ import annotations

import io
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stormflow import client, integrations

URL = "/api/v1/integrations/blender/addon.zip"


def test_the_zip_holds_the_addon_and_the_vendored_client(api: TestClient) -> None:
    answer = api.get(URL)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    assert 'filename="storm_blender.zip"' in answer.headers["content-disposition"]
    assert answer.headers["x-storm-addon-version"] == integrations.blender_addon_version()
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    names = archive.namelist()
    assert all(n.startswith("storm_blender/") for n in names)
    source = integrations.blender_addon_source()
    for path in source.glob("*.py"):
        assert archive.read(f"storm_blender/{path.name}") == path.read_bytes()
    assert archive.read("storm_blender/storm_client.py") == Path(client.__file__).read_bytes()
    assert not [n for n in names if "__pycache__" in n]


def test_the_same_sources_give_the_same_bytes_and_a_304(api: TestClient) -> None:
    first = api.get(URL)
    again = api.get(URL, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert api.get(URL).content == first.content


def test_the_zip_needs_the_token(api: TestClient) -> None:
    answer = api.get(URL, headers={"Authorization": "Bearer wrong"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def test_without_the_addon_sources_the_answer_is_a_404_not_a_500(
    api: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def missing() -> Path:
        raise integrations.IntegrationMissing("the Blender add-on's sources are not installed")

    monkeypatch.setattr(integrations, "blender_addon_source", missing)
    answer = api.get(URL)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "no-integration"
    broken = tmp_path / "storm_blender"
    broken.mkdir()
    (broken / "__init__.py").write_text("bl_info = {'name': 'no version'}\n")
    monkeypatch.setattr(integrations, "blender_addon_source", lambda: broken)
    assert api.get(URL).status_code == 404


def test_many_downloads_at_once_get_the_same_zip(api: TestClient) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: api.get(URL), range(32)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1


def test_the_addon_keeps_the_clients_python_37_floor() -> None:
    """Blender 4.2+ bundles 3.11, but the add-on vendors the 3.7 client and keeps its floor."""
    import subprocess
    import sys

    files = sorted(str(p) for p in integrations.blender_addon_source().glob("*.py"))
    vermin = str(Path(sys.executable).parent / "vermin")
    done = subprocess.run(
        [vermin, "--no-tips", "--target=3.7-", "--violations", *files],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
