"""The event log as JSON pages and as a Server-Sent Events stream that resumes without gaps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from stormflow.api.app import create_app
from stormflow.store import Store
from tests.api.helpers import API, DOC, TOKEN, act, live_server, submit


def test_event_pages(api: TestClient) -> None:
    wf = submit(api)
    act(api, wf, {"action": "hold", "selection": {"glob": "render.*"}})
    page = api.get(f"{API}/workflows/{wf}/events").json()
    assert [e["seq"] for e in page["items"]] == [1, 2, 3, 4, 5] and page["last_seq"] == 5
    submitted, held = page["items"][0], page["items"][1]
    assert submitted["type"] == "submit" and submitted["node"] is None
    assert held | {"at": 0, "correlation": None} == {
        "seq": 2, "type": "hold", "node": "render.1-2", "old": "open", "new": "holding",
        "actor": "api", "at": 0, "why": "hold", "caused_by": None, "payload": {},
        "correlation": None,
    }  # fmt: skip
    rest = api.get(f"{API}/workflows/{wf}/events", params={"after": 3, "limit": 1}).json()
    assert [e["seq"] for e in rest["items"]] == [4] and rest["last_seq"] == 4
    empty = api.get(f"{API}/workflows/{wf}/events", params={"after": 99}).json()
    assert empty == {"items": [], "last_seq": 99}
    assert api.get(f"{API}/workflows/zzzzzzzz/events").status_code == 404


def sse(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Parse an event stream into {"id", "event", "data"} dicts (comments skipped)."""
    event: dict[str, Any] = {}
    for line in lines:
        if line == "":
            if "data" in event:
                yield event
            event = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(": ")
            event[key] = json.loads(value) if key == "data" else value


def test_stream_resumes_from_last_event_id_with_nothing_missed(
    store: Store, data_dir: Path
) -> None:
    app = create_app(store, data_dir=data_dir, token=TOKEN, keepalive=0.3)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with live_server(app) as url, httpx.Client(base_url=url, headers=headers, timeout=5) as http:
        wf = http.post(f"{API}/workflows", json=DOC).json()["id"]
        stream_url = f"{API}/workflows/{wf}/events/stream"
        seen: list[int] = []
        with http.stream("GET", stream_url) as first:
            assert first.headers["content-type"].startswith("text/event-stream")
            events = sse(first.iter_lines())
            submitted = next(events)
            assert (submitted["id"], submitted["event"]) == ("1", "submit")
            seen.append(int(submitted["id"]))
            # an action while connected arrives live
            http.post(f"{API}/workflows/{wf}/actions",
                      json={"action": "hold", "selection": {"names": ["notify"]}})  # fmt: skip
            held = next(events)
            assert held["event"] == "hold" and held["data"]["node"] == "notify"
            seen.append(int(held["id"]))
        # disconnected: these happen while nobody listens
        for glob in ("render.*", "comp.*"):
            http.post(f"{API}/workflows/{wf}/actions",
                      json={"action": "hold", "selection": {"glob": glob}})  # fmt: skip
        last = str(seen[-1])
        with http.stream("GET", stream_url, headers={"Last-Event-ID": last}) as again:
            lines = again.iter_lines()
            for event in sse(lines):
                seen.append(int(event["id"]))
                assert event["data"]["seq"] == int(event["id"])
                if len(seen) == 8:
                    break
            # quiet now: the server keeps the connection alive with comments
            assert next(line for line in lines if line.startswith(":")) == ": keepalive"
        assert seen == list(range(1, 9))
        by_query = http.get(f"{API}/workflows/{wf}/events", params={"after": 6}).json()
        assert [e["seq"] for e in by_query["items"]] == [7, 8]
        with http.stream("GET", stream_url, params={"after": 7}) as tail:
            assert next(sse(tail.iter_lines()))["id"] == "8"
        bad = http.get(stream_url, headers={"Last-Event-ID": "soon"})
        assert bad.status_code == 422
