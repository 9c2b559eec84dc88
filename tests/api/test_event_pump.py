"""One event pump per server: every subscriber gets every event in order, the database sees
one reader, and a subscriber that falls behind is dropped with a reconnect event."""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from stormflow.api.app import create_app
from stormflow.api.pump import EventPump
from stormflow.store import Store
from tests.api.helpers import API, DOC, TOKEN, live_server

SUBSCRIBERS = 200
ACTIONS = 12  # each holds or unholds the four render chunks: four events


async def _subscribe(
    port: int, wf: str, after: int, ready: asyncio.Event, want: int, out: list[int]
) -> None:
    """A raw SSE client (200 of them cost the test little): the seqs it receives until `want`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {API}/workflows/{wf}/events/stream HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {TOKEN}\r\nLast-Event-ID: {after}\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    ready.set()
    buffer = b""
    try:
        while not out or out[-1] < want:
            chunk = await reader.read(65536)
            assert chunk, "the stream ended early"
            buffer += chunk
            for line in buffer.split(b"\n"):
                if line.startswith(b"id: "):
                    out.append(int(line[4:]))
            buffer = buffer[buffer.rfind(b"\n") + 1 :]
    finally:
        writer.close()


def test_two_hundred_subscribers_get_every_event_in_order_from_one_reader(
    store: Store, data_dir: Path
) -> None:
    app = create_app(store, data_dir=data_dir, token=TOKEN, keepalive=5)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    reads: list[str] = []  # the thread of every read of the event log
    with live_server(app) as url, httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        wf = http.post(f"{API}/workflows", json=DOC).json()["id"]
        start = store.last_seq(wf)
        final = start + ACTIONS * 4
        port = int(url.rsplit(":", 1)[1])

        @event.listens_for(store.engine, "before_cursor_execute")
        def count(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
            if "FROM events" in statement:
                reads.append(threading.current_thread().name)

        async def scenario() -> list[list[int]]:
            received: list[list[int]] = [[] for _ in range(SUBSCRIBERS)]
            ready = [asyncio.Event() for _ in range(SUBSCRIBERS)]
            # half resume from the start (catch up from the database), half from now
            tasks = [
                asyncio.create_task(
                    _subscribe(port, wf, 0 if i % 2 else start, ready[i], final, received[i])
                )
                for i in range(SUBSCRIBERS)
            ]
            await asyncio.gather(*(r.wait() for r in ready))
            while app.state.pump.subscribers < SUBSCRIBERS or any(
                i % 2 and (not seqs or seqs[-1] < start) for i, seqs in enumerate(received)
            ):
                await asyncio.sleep(0.05)
            reads.clear()  # the live phase from here: no catch-up any more

            def act() -> None:
                for i in range(ACTIONS):
                    action = "unhold" if i % 2 else "hold"
                    body = {"action": action, "selection": {"glob": "render.*"}}
                    assert http.post(f"{API}/workflows/{wf}/actions", json=body).status_code == 200

            await asyncio.to_thread(act)
            await asyncio.wait_for(asyncio.gather(*tasks), 60)
            return received

        # In a thread of its own: another test's library (Playwright's sync API) may have left
        # an event loop set on this one.
        with ThreadPoolExecutor(1) as pool:
            received = pool.submit(asyncio.run, scenario()).result()
        event.remove(store.engine, "before_cursor_execute", count)
        pump = app.state.pump
    for i, seqs in enumerate(received):
        first = 1 if i % 2 else start + 1
        assert seqs == list(range(first, final + 1)), f"subscriber {i}"
    # one reader: every live read of the log came from the pump's thread, and far fewer than
    # one per subscriber per change (each read serves all 200)
    assert reads and set(reads) == {"storm-event-pump"}
    assert len(reads) <= 2 * ACTIONS + 4
    assert pump.stats.dropped == 0
    if store.dialect == "postgresql":
        assert pump.stats.wakeups > 0  # woken by NOTIFY, not by polling


def test_a_subscriber_too_far_behind_is_dropped_with_a_reconnect_event(
    store: Store, data_dir: Path
) -> None:
    app = create_app(store, data_dir=data_dir, token=TOKEN, keepalive=5)
    app.state.pump = EventPump(store, backlog=3)  # one hold of four chunks overflows it
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with live_server(app) as url, httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        wf = http.post(f"{API}/workflows", json=DOC).json()["id"]
        stream_url = f"{API}/workflows/{wf}/events/stream"
        with http.stream("GET", stream_url) as stream:
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith("id: ")) == "id: 1"
            body = {"action": "hold", "selection": {"glob": "render.*"}}
            assert http.post(f"{API}/workflows/{wf}/actions", json=body).status_code == 200
            rest = list(lines)  # the server ends the stream
        assert "event: reconnect" in rest
        data = json.loads(rest[rest.index("event: reconnect") + 1].removeprefix("data: "))
        assert data["last_seq"] == 1 and "Last-Event-ID" in data["reason"]
        # the client resumes where it stood: the database catches it up
        with http.stream("GET", stream_url, headers={"Last-Event-ID": "1"}) as again:
            ids = []
            for line in again.iter_lines():
                if line.startswith("id: "):
                    ids.append(int(line[4:]))
                if len(ids) == 4:
                    break
        assert ids == [2, 3, 4, 5]
        assert app.state.pump.stats.dropped == 1


def test_streams_of_unknown_workflows_and_bad_resume_points_are_refused(
    store: Store, data_dir: Path
) -> None:
    app = create_app(store, data_dir=data_dir, token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with live_server(app) as url, httpx.Client(base_url=url, headers=headers, timeout=10) as http:
        missing = http.get(f"{API}/workflows/zzzzzzzz/events/stream")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown-workflow"
        wf = http.post(f"{API}/workflows", json=DOC).json()["id"]
        bad = http.get(f"{API}/workflows/{wf}/events/stream", headers={"Last-Event-ID": "-1"})
        assert bad.status_code == 422
    assert getattr(app.state, "pump", None) is None or app.state.pump.subscribers == 0
