"""External-job fixtures: a fake job service and `storm server` as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.helpers import API, free_port

HERE = Path(__file__).parent
SECRET = "farm-secret-for-tests"
STORM = [sys.executable, "-m", "stormflow.cli.main"]


@dataclass
class Farm:
    url: str
    proc: subprocess.Popen[str]

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/stats", timeout=5) as answer:
            data: dict[str, Any] = json.loads(answer.read())
        return data

    def mode(self, **mode: str) -> None:
        body = json.dumps(mode).encode()
        request = urllib.request.Request(f"{self.url}/mode", data=body, method="POST")
        urllib.request.urlopen(request, timeout=5).read()


def start_farm() -> Farm:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "fake_provider.py"), str(port), SECRET],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return Farm(f"http://127.0.0.1:{port}", proc)


@pytest.fixture
def farm() -> Iterator[Farm]:
    started = start_farm()
    try:
        yield started
    finally:
        started.proc.kill()
        started.proc.wait(timeout=10)


def provider(
    farm: Farm, name: str = "farm", callback: str | None = None, **over: Any
) -> dict[str, Any]:
    """A provider configuration for the fake farm (polling fast, for tests)."""
    config: dict[str, Any] = {
        "name": name,
        "kind": "http",
        "base_url": farm.url,
        "submit": {"url": "/jobs", "body": {"job": "${request}", "callback": "${callback-url}"}},
        "status": {"url": "/jobs/${id}"},
        "cancel": {"url": "/jobs/${id}/cancel"},
        "webhook": {"secret_env": "FARM_SECRET"},
        "poll": [0.3],
        "rate": 1000,
    }
    if callback is not None:
        config["callback_url"] = callback
    config.update(over)
    return config


def wait_for(condition: Any, timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.05)


@dataclass
class Server:
    url: str
    token: str
    home: Path
    proc: subprocess.Popen[str]
    http: httpx.Client

    def hook_url(self, provider: str) -> str:
        return f"{self.url}{API}/hooks/{provider}"

    def submit(self, doc: dict[str, Any]) -> str:
        answer = self.http.post(f"{API}/workflows", json=doc)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def status(self, workflow_id: str) -> str:
        return str(self.http.get(f"{API}/workflows/{workflow_id}").json()["status"])

    def finished(self, workflow_id: str, timeout: float = 30.0) -> str:
        return str(
            wait_for(
                lambda: (s := self.status(workflow_id)) not in ("running",) and s,
                timeout,
                f"workflow {workflow_id} to finish",
            )
        )

    def events(self, workflow_id: str) -> list[dict[str, Any]]:
        answer = self.http.get(f"{API}/workflows/{workflow_id}/events", params={"limit": 1000})
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items


def start_server(home: Path, extra: list[str] | None = None) -> Server:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORM_")}
    env["FARM_SECRET"] = SECRET
    env["STORM_SUPERVISED"] = "0"
    proc = subprocess.Popen(
        [
            *STORM,
            "server",
            "--port",
            str(port),
            "--data-dir",
            str(home),
            "--slots",
            "2",
            *(extra or []),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    wait_for((home / "server.json").exists, 30, "server.json")
    token = (home / "token").read_text().strip()
    url = f"http://127.0.0.1:{port}"
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    wait_for(lambda: _healthy(http), 30, "the server's scheduler")
    return Server(url, token, home, proc, http)


def _healthy(http: httpx.Client) -> bool:
    try:
        return bool(http.get(f"{API}/health").json().get("scheduler"))
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `storm server` for a module's tests (each test uses its own provider names)."""
    started = start_server(tmp_path_factory.mktemp("external") / "home")
    try:
        yield started
    finally:
        started.http.close()
        started.proc.terminate()
        try:
            started.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            started.proc.kill()
            started.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def module_farm() -> Iterator[Farm]:
    started = start_farm()
    try:
        yield started
    finally:
        started.proc.kill()
        started.proc.wait(timeout=10)


@pytest.fixture
def pg_store_url() -> Iterator[str]:
    """A fresh PostgreSQL schema (skipped without a server, a failure under CI=true)."""
    import uuid

    import psycopg

    from tests.conftest import PG_DB, PG_HOST, _pg_or_skip

    role = _pg_or_skip()
    schema = f"storm_test_{uuid.uuid4().hex[:12]}"
    admin = f"postgresql://{role}@{PG_HOST}/{PG_DB}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"postgresql+psycopg://{role}@{PG_HOST}/{PG_DB}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
