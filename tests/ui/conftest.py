"""Fixtures for the web UI end-to-end tests: a real `storm server`, headless Chromium.

The tests skip when Playwright or Chromium is missing, except with CI=true, where
they fail instead. Chromium is Debian's (`/usr/bin/chromium`, or $STORM_CHROMIUM);
Playwright only drives it (never `playwright install`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stormflow.web import static_dir

CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = os.environ.get("STORM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"
ARTIFACTS = REPO / "test-artifacts" / "screenshots"


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (.venv/bin/pip install playwright)"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"chromium not found at {CHROMIUM} (apt-get install chromium)"
    if not (static_dir() / "index.html").exists():
        return "the UI is not built (cd ui && npm ci && npm run build)"
    return None


def require_browser() -> None:
    why = _missing()
    if why:
        if CI:
            pytest.fail(f"CI=true and {why}")
        pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def storm_bin() -> list[str]:
    exe = Path(sys.executable).with_name("storm")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "stormflow.cli.main"]


class Server:
    """A `storm server` subprocess; `.ui` is where the browser goes, `.api` the JSON client."""

    def __init__(self, data_dir: Path, slots: int = 2, extra: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "STORM_HOME": str(data_dir),
            "STORM_MAIL_OUTBOX": str(data_dir / "outbox"),
        }
        env.pop("STORM_SERVER", None)
        env.pop("STORM_TOKEN", None)
        self.log = open(data_dir / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                *storm_bin(),
                "server",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
                "--slots",
                str(slots),
                *extra,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("storm server exited:\n" + (data_dir / "server.log").read_text())
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("storm server did not start")
            time.sleep(0.1)
        self.token = (data_dir / "token").read_text().strip()
        self.api = httpx.Client(
            base_url=self.url + "/api/v1",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        self.ui = self.url
        self._proxy: Any = None
        if not self._serves_ui():
            # Until `storm server` mounts stormflow.web at /ui/: serve the build, proxy /api.
            self._proxy = UiProxy(self.url)
            self.ui = self._proxy.url

    def _serves_ui(self) -> bool:
        try:
            r = httpx.get(f"{self.url}/ui/?token={self.token}", timeout=5)
        except httpx.HTTPError:
            return False
        return r.status_code == 200 and '<div id="root">' in r.text

    def page_url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.ui}/ui/{path.lstrip('/')}{sep}token={self.token}"

    def stop(self) -> None:
        if self._proxy:
            self._proxy.stop()
        self.api.close()
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


class UiProxy:
    """Serves the built UI at /ui/ (SPA fallback) and streams /api/* to the server."""

    def __init__(self, upstream: str) -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.background import BackgroundTask
        from starlette.requests import Request
        from starlette.responses import FileResponse, Response, StreamingResponse
        from starlette.routing import Mount, Route
        from starlette.staticfiles import StaticFiles

        client = httpx.AsyncClient(base_url=upstream, timeout=None)
        hop = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}

        async def proxy(request: Request) -> Response:
            headers = [(k, v) for k, v in request.headers.items() if k.lower() not in hop]
            req = client.build_request(
                request.method,
                request.url.path,
                params=request.url.query,
                headers=headers,
                content=await request.body(),
            )
            r = await client.send(req, stream=True)
            out = [(k, v) for k, v in r.headers.items() if k.lower() not in hop]
            resp = StreamingResponse(
                r.aiter_raw(), status_code=r.status_code, background=BackgroundTask(r.aclose)
            )
            for k, v in out:
                resp.headers.append(k, v)
            return resp

        async def index(request: Request) -> Response:
            return FileResponse(static_dir() / "index.html")

        app = Starlette(
            routes=[
                Mount("/ui/assets", StaticFiles(directory=static_dir() / "assets")),
                Route("/ui", index),
                Route("/ui/{path:path}", index),
                Route("/api/{path:path}", proxy, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
            ]
        )
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("ui proxy did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def storm_server(tmp_path: Path) -> Iterator[Server]:
    require_browser()
    srv = Server(tmp_path / "data")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Console:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def check(self) -> None:
        assert not self.errors, "console errors:\n" + "\n".join(self.errors)


@pytest.fixture
def page(chromium: Any, tmp_path: Path) -> Iterator[tuple[Any, Console]]:
    ctx = chromium.new_context(viewport={"width": 1500, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(20_000)
    console = Console()
    pg.on("console", lambda m: m.type == "error" and console.errors.append(m.text))
    pg.on("pageerror", lambda e: console.errors.append(f"pageerror: {e}"))
    try:
        yield pg, console
    finally:
        with contextlib.suppress(Exception):
            pg.screenshot(path=str(tmp_path / "last-page.png"))
        ctx.close()


def screenshot(pg: Any, tmp_path: Path, name: str) -> Path:
    """Save to test-artifacts/screenshots (kept after the run, for CI) and, on demand, to
    docs/screenshots for the README."""
    out = ARTIFACTS / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(out))
    if os.environ.get("STORM_UI_SCREENSHOTS") == "1":  # refresh the README's pictures on demand
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, SCREENSHOTS / out.name)
    return out
