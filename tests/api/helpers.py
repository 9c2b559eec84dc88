"""API test helpers: a client over `create_app`, documents, and engine steps driven by hand."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi.testclient import TestClient

from stormflow import core
from stormflow.api.app import create_app
from stormflow.store import Store

TOKEN = "test-token-0123456789abcdef"
API = "/api/v1"

#: simulate -> render (4 chunks) -> comp (2 chunks, by frames) -> notify
DOC: dict[str, Any] = {
    "schema": 1,
    "name": "shot010",
    "metadata": {"shot": "sh010"},
    "nodes": [
        {"name": "simulate", "commands": [["true"]]},
        {
            "name": "render",
            "frames": "1-8",
            "chunk_size": 2,
            "instance_type": "cpu-8",
            "commands": [["echo", "{start}", "{end}"]],
        },
        {"name": "comp", "frames": "1-8", "chunk_size": 4, "commands": [["echo", "{start}"]]},
        {"name": "notify", "kind": "email", "addresses": ["a@example.com"], "subject": "done"},
    ],
    "edges": [
        ["simulate", "render"],
        {"from": "render", "to": "comp", "mode": "frames"},
        ["comp", "notify"],
    ],
}


def client(store: Store, data_dir: Path, **kw: Any) -> TestClient:
    app = create_app(store, data_dir=data_dir, token=TOKEN, **kw)
    return TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})


def submit(api: TestClient, doc: dict[str, Any] | None = None) -> str:
    answer = api.post(f"{API}/workflows", json=doc or DOC)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def run_node(store: Store, wf: str, name: str, *, ok: bool = True, log: str | None = None) -> str:
    """The engine's part by hand: run, start (with a log), then succeed or fail; the token."""
    at = time.time()
    applied = store.transact(wf, lambda v: core.run(v, name, at=at))
    assert applied.outcome is not None
    token = applied.outcome.start[0][1].token
    store.transact(wf, lambda v: core.started(v, name, token, at=at, worker="w1", log=log))
    if ok:
        store.transact(wf, lambda v: core.succeed(v, name, token, at=at + 1, exit_code=0))
    else:
        store.transact(
            wf, lambda v: core.fail(v, name, token, at=at + 1, exit_code=1, error="boom")
        )
    return token


def act(api: TestClient, wf: str, body: dict[str, Any], **headers: str) -> Any:
    return api.post(f"{API}/workflows/{wf}/actions", json=body, headers=headers)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread (streams need a real server); yields its URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
