"""API test helpers: a client over `create_app`, documents, and engine steps driven by hand."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

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

_clock = itertools.count(1)


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
