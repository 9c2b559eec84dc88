"""The client against a real `storm server` subprocess (see serverproc.py)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.parse
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stormflow.client import Client, StormError, Workflow
from tests.client.serverproc import Server, wait_for

# A render that fails unless the node's env says MEM=large; chunk 1 always succeeds.
RENDER = ["sh", "-c", 'test "$MEM" = large || test "{start}" = 1']


def batch_workflow(name: str = "batch") -> Workflow:
    wf = Workflow(name, metadata={"shot": "sh010"})
    prep = wf.task("prep", [["sh", "-c", "echo preparing"]])
    render = wf.task("render", [RENDER], frames="1-4", chunk_size=1, env={"MEM": "small"})
    comp = wf.task("comp", [["true"]], frames="1-4", chunk_size=1)
    prep >> render >> comp
    return wf


@pytest.fixture(scope="module")
def client(server: Server) -> Client:
    return Client(url=server.url, token=server.token, timeout=10)


def settled(client: Client, workflow_id: str, timeout: float = 30) -> dict[str, Any]:
    """The workflow summary once it is no longer running."""

    def done() -> dict[str, Any] | None:
        summary = client.workflow(workflow_id)
        return summary if summary["status"] != "running" else None

    return wait_for(done, timeout)  # type: ignore[no-any-return]


def statuses(client: Client, workflow_id: str) -> dict[str, str]:
    return {row["name"]: row["status"] for row in client.nodes(workflow_id)}


def test_health_needs_no_token(server: Server) -> None:
    answer = Client(url=server.url, token="wrong").health()
    assert answer["status"] == "ok"
    assert answer["scheduler"] is True


def test_validate_lists_entries_and_fix_applies_a_fixer(client: Client) -> None:
    clean = client.validate(batch_workflow())
    assert clean["errors"] == 0
    doc = batch_workflow().to_dict()
    doc["edges"].append(["comp", "nowhere"])
    broken = client.validate(doc)
    assert broken["errors"] == 1
    fixers = [f["name"] for e in broken["entries"] for f in e["fixers"]]
    assert "drop-edge:comp:nowhere" in fixers
    fixed = client.fix(doc, "drop-edge:comp:nowhere")
    assert ["comp", "nowhere"] not in fixed["document"]["edges"]
    with pytest.raises(StormError) as info:
        client.fix(doc, "no-such-fixer")
    assert info.value.status == 422


def test_draft_url_opens_the_composer_with_the_token(
    client: Client, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url))
    answer = client.open_draft(batch_workflow())
    assert opened == [answer["url"]]
    assert answer["id"] in answer["url"]
    assert (
        urllib.parse.quote(server.token, safe="") in answer["url"] or server.token in answer["url"]
    )
    assert answer["url"].startswith("http")


def test_submit_runs_to_success_with_logs_and_attempts(client: Client) -> None:
    wf = Workflow("simple")
    a = wf.task("a", [["sh", "-c", "echo hello from a"]])
    wf.task("b", [["true"]])
    a >> "b"  # type: ignore[operator]
    answer = client.submit(wf, idempotency_key="simple-1")
    again = client.submit(wf, idempotency_key="simple-1")
    assert again["id"] == answer["id"]  # a repeated key submits nothing new
    summary = settled(client, answer["id"])
    assert summary["status"] == "succeeded"
    assert summary["counts"]["succeeded"] == 2
    assert "hello from a" in client.log(answer["id"], "a")
    attempts = client.attempts(answer["id"], "a")
    assert [a["exit_code"] for a in attempts] == [0]
    assert any(w["id"] == answer["id"] for w in client.workflows(name="simple"))
    graph = client.graph(answer["id"])
    assert graph["nodes"]["name"] == ["a", "b"]
    assert graph["edges"] == [[0, 1]]


def test_batch_edit_update_failed_renders_then_everything_succeeds(client: Client) -> None:
    workflow_id = client.submit(batch_workflow())["id"]
    assert settled(client, workflow_id)["status"] == "failed"
    before = statuses(client, workflow_id)
    assert before["render.1"] == "succeeded" and before["render.2"] == "failed"

    answer = client.update(workflow_id, {"env": {"MEM": "large"}}, status="failed", glob="render.*")
    assert answer["selected"] == 3
    assert sorted(answer["changed"]) == ["render.2", "render.3", "render.4"]
    assert {s["node"] for s in answer["snapshots"]} == {"render.2", "render.3", "render.4"}
    assert settled(client, workflow_id)["status"] == "succeeded"

    history = client.history(workflow_id, "render.2")
    assert history["current"]["config"]["env"] == {"MEM": "large"}
    [snap] = history["snapshots"]
    assert (snap["number"], snap["status"], snap["why"]) == (1, "failed", "update")
    assert [a["exit_code"] for a in snap["attempts"]] == [1]
    assert history["base"]["config"]["env"] == {"MEM": "small"}
    diff = client.diff(workflow_id, "render.2", 1, "current")
    assert {"path": "env.MEM", "a": "small", "b": "large"} in diff["changes"]

    # retry of a succeeded chunk cascades to the comp chunk downstream of it
    retried = client.retry(workflow_id, ["render.1"])
    assert retried["cascaded"] == ["comp.1"]
    settled(client, workflow_id)
    # hold is not allowed on succeeded nodes: listed, with the reason; strict refuses all
    held = client.hold(workflow_id, glob="comp.*")
    assert held["changed"] == [] and len(held["ineligible"]) == 4
    assert all(i["reason"] for i in held["ineligible"])
    with pytest.raises(StormError) as info:
        client.hold(workflow_id, glob="comp.*", strict=True)
    assert info.value.status == 409


def test_hold_unhold_and_skip_on_a_held_workflow(client: Client) -> None:
    wf = Workflow("held")
    first = wf.task("first", [["true"]], status="holding")
    first >> wf.task("second", [["true"]])
    workflow_id = client.submit(wf)["id"]
    assert client.workflow(workflow_id)["status"] == "holding"
    assert client.hold(workflow_id, ["second"])["changed"] == ["second"]
    assert client.unhold(workflow_id, status="holding")["changed"] == ["first", "second"]
    assert settled(client, workflow_id)["status"] == "succeeded"
    detail = client.node(workflow_id, "second")
    assert detail["upstream"] == ["first"]


def test_errors_carry_the_server_message(client: Client, server: Server) -> None:
    with pytest.raises(StormError) as info:
        client.workflow("zzzzzzzz")
    assert info.value.status == 404
    assert "zzzzzzzz" in info.value.message and info.value.code
    with pytest.raises(StormError) as info:
        Client(url=server.url, token="wrong").workflows()
    assert info.value.status == 401
    with pytest.raises(StormError) as info:
        client.submit({"name": "bad", "nodes": [{"name": "a"}]})
    assert info.value.status == 422
    with pytest.raises(StormError) as info:
        client.act("zzzzzzzz", "hold")
    assert info.value.code == "no-selection"
    with pytest.raises(StormError) as info:
        Client(url="http://127.0.0.1:9", timeout=2).health()
    assert info.value.status is None and "cannot reach" in info.value.message


def test_node_names_are_url_encoded(client: Client) -> None:
    wf = Workflow("names")
    wf.task("render", [["true"]], frames="1-2", chunk_size=2)
    workflow_id = client.submit(wf)["id"]
    settled(client, workflow_id)
    assert client.node(workflow_id, "render.1-2")["status"] == "succeeded"
    with pytest.raises(StormError) as info:
        client.node(workflow_id, "a/b?c#d")
    assert info.value.status == 404


def test_follow_log_streams_until_the_attempt_ends(client: Client) -> None:
    wf = Workflow("follow")
    wf.task("talk", [["sh", "-c", "echo one; sleep 1; echo two"]])
    workflow_id = client.submit(wf)["id"]
    wait_for(lambda: client.attempts(workflow_id, "talk"))
    text = "".join(client.follow_log(workflow_id, "talk"))
    assert "one" in text and "two" in text


def test_limits(client: Client) -> None:
    row = client.set_limit("houdini_license", 2)
    assert row == {"name": "houdini_license", "capacity": 2, "used": 0}
    assert row in client.limits()


class DroppingProxy:
    """A TCP proxy that cuts the first connection after `cut` response bytes."""

    def __init__(self, upstream: str, cut: int) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.target = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.cut = cut
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            limit = self.cut if self.connections == 1 else None
            up = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(conn, up, None), daemon=True).start()
            threading.Thread(target=self._pipe, args=(up, conn, limit), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(4096 if limit is None else max(1, min(4096, limit - sent)))
                if not data:
                    break
                dst.sendall(data)
                sent += len(data)
                if limit is not None and sent >= limit:
                    break
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def proxy(server: Server) -> Iterator[DroppingProxy]:
    p = DroppingProxy(server.url, cut=1500)
    yield p
    p.close()


def test_event_stream_resumes_after_a_dropped_connection(
    client: Client, server: Server, proxy: DroppingProxy
) -> None:
    workflow_id = client.submit(batch_workflow("events"))["id"]
    settled(client, workflow_id)
    page = client.events(workflow_id)
    expected = [e["seq"] for e in page["items"]]
    assert expected == list(range(1, len(expected) + 1))  # gap-free, from 1
    assert len(json.dumps(page)) > 3000  # more than the proxy lets through at once
    assert client.latest_seq(workflow_id) == expected[-1]

    through_proxy = Client(url=proxy.url, token=server.token, timeout=10)
    seen = []
    for event in through_proxy.stream_events(workflow_id, retry_delay=0.05):
        seen.append(event["seq"])
        if event["seq"] == expected[-1]:
            break
    assert proxy.connections >= 2  # the first connection was cut mid-stream
    assert seen == expected  # nothing missed, nothing repeated

    later = [e["seq"] for e in client.events(workflow_id, after=expected[2])["items"]]
    assert later == expected[3:]


def test_discovery_from_server_json_and_token(
    server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key in ("STORM_SERVER", "STORM_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("STORM_HOME", str(server.home))
    found = Client()
    assert found.root == server.url
    assert found.token == server.token
    assert found.workflows(limit=1) is not None

    monkeypatch.setenv("STORM_HOME", str(tmp_path))  # nothing there
    with pytest.raises(StormError) as info:
        Client()
    assert info.value.code == "no-server" and str(tmp_path) in info.value.message

    monkeypatch.setenv("STORM_SERVER", server.url + "/api/v1/")
    monkeypatch.setenv("STORM_TOKEN", server.token)
    assert Client().health()["status"] == "ok"
    assert Client().limits() is not None
