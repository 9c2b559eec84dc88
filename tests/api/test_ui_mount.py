"""The built web UI is served at /ui/ behind the same token as the API."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from stormflow import web
from stormflow.api.app import create_app
from stormflow.store import Store

from .helpers import TOKEN, client


def test_the_ui_is_served_with_an_spa_fallback(store: Store, tmp_path: Path) -> None:
    api = client(store, tmp_path)
    for path in ("/ui", "/ui/", "/ui/workflows/abc", "/ui/composer/xyz"):
        page = api.get(path)
        assert page.status_code == 200 and "<div id=" in page.text, path
    asset = next((web.static_dir() / "assets").iterdir()).name
    assert api.get(f"/ui/assets/{asset}").status_code == 200
    assert api.get("/ui/assets/nope.js").status_code == 404


def test_ui_assets_never_leave_the_build_directory(store: Store, tmp_path: Path) -> None:
    api = client(store, tmp_path)
    for path in ("/ui/assets/../index.html", "/ui/assets/%2e%2e/%2e%2e/__init__.py"):
        answer = api.get(path)
        assert answer.status_code in (200, 404)
        assert "static_dir" not in answer.text  # never the Python package's source


def test_the_ui_needs_the_token_and_the_url_token_sets_a_cookie(
    store: Store, tmp_path: Path
) -> None:
    bare = TestClient(create_app(store, data_dir=tmp_path, token=TOKEN))
    assert bare.get("/ui/").status_code == 401
    first = bare.get(f"/?token={TOKEN}", follow_redirects=True)
    assert first.status_code == 200 and first.url.path == "/ui/"
    assert bare.get("/ui/workflows/x").status_code == 200  # the cookie authorises it now
