"""Attempts and logs: the tail, following a running attempt, and paths outside the data dir."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import update

from stormflow import core
from stormflow.api.app import create_app
from stormflow.store import Store
from stormflow.store.schema import attempts
from tests.api.helpers import API, TOKEN, act, live_server, run_node, submit


def write_log(data_dir: Path, name: str, lines: int) -> str:
    path = data_dir / "logs" / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"line {i}\n" for i in range(1, lines + 1)))
    return str(path)


def test_attempts_across_snapshots_and_log_tail(
    api: TestClient, store: Store, data_dir: Path
) -> None:
    wf = submit(api)
    run_node(store, wf, "simulate", ok=False, log=write_log(data_dir, "sim1", 500))
    act(api, wf, {"action": "retry", "selection": {"names": ["simulate"]}})
    run_node(store, wf, "simulate", log=write_log(data_dir, "sim2", 3))
    node = f"{API}/workflows/{wf}/nodes/simulate"
    listed = api.get(f"{node}/attempts").json()
    # attempt numbers count within a run; tokens are fresh per attempt
    assert [(a["number"], a["result"], a["snapshot"]) for a in listed] == [
        (1, "failed", 1),
        (1, "succeeded", None),
    ]
    assert listed[0]["token"] != listed[1]["token"]
    assert "log" not in listed[0]  # read through the log endpoint, never by path
    latest = api.get(f"{node}/log")
    assert latest.status_code == 200 and latest.headers["content-type"].startswith("text/plain")
    assert latest.text == "line 1\nline 2\nline 3\n"
    first = api.get(f"{node}/log", params={"attempt": "1", "tail": 2})
    assert first.text == "line 499\nline 500\n"
    assert api.get(f"{node}/log", params={"attempt": "1", "tail": 0}).text.count("\n") == 500
    assert api.get(f"{node}/log", params={"attempt": "3"}).status_code == 404
    assert api.get(f"{API}/workflows/{wf}/nodes/comp.1-4/log").status_code == 404


def test_log_outside_the_data_dir_is_refused(api: TestClient, store: Store, data_dir: Path) -> None:
    wf = submit(api)
    outside = data_dir.parent / "secret.txt"
    outside.write_text("do not serve me\n")
    token = run_node(store, wf, "simulate", log=write_log(data_dir, "ok", 1))
    for sneaky in (str(outside), str(data_dir / ".." / "secret.txt")):
        with store.write() as conn:  # as another process with database access could
            conn.execute(
                update(attempts)
                .where(attempts.c.workflow_id == wf, attempts.c.token == token)
                .values(log=sneaky)
            )
        for follow in ("false", "true"):
            answer = api.get(f"{API}/workflows/{wf}/nodes/simulate/log", params={"follow": follow})
            assert answer.status_code == 403
            assert answer.json()["error"]["code"] == "log-outside-data-dir"
            assert "do not serve me" not in answer.text


def test_follow_streams_until_the_attempt_ends(store: Store, data_dir: Path) -> None:
    app = create_app(store, data_dir=data_dir, token=TOKEN)
    with (
        live_server(app) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        ) as http,
    ):
        wf = http.post(f"{API}/workflows", json={"schema": 1, "name": "f", "nodes": [
            {"name": "a", "commands": [["true"]]}]}).json()["id"]  # fmt: skip
        log = Path(write_log(data_dir, "a", 2))
        at = time.time()
        started = store.transact(wf, lambda v: core.run(v, "a", at=at))
        assert started.outcome is not None
        tok = started.outcome.start[0][1].token
        store.transact(wf, lambda v: core.started(v, "a", tok, at=at, worker="w", log=str(log)))
        received = b""
        with http.stream(
            "GET", f"{API}/workflows/{wf}/nodes/a/log", params={"follow": "true", "tail": 1}
        ) as stream:
            chunks = stream.iter_bytes()
            received += next(chunks)
            assert received == b"line 2\n"
            with log.open("a") as f:
                f.write("line 3\n")
            while b"line 3" not in received:
                received += next(chunks)
            with log.open("a") as f:
                f.write("footer\n")
            store.transact(wf, lambda v: core.succeed(v, "a", tok, at=at + 1, exit_code=0))
            for chunk in chunks:  # ends by itself once the attempt has ended
                received += chunk
        assert received == b"line 2\nline 3\nfooter\n"
