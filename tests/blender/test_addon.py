"""The add-on inside a real Blender, against a real `storm server` (see conftest.py)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from stormflow.client import Client
from stormflow.integrations import blender_addon_version
from tests.blender.conftest import Blender
from tests.client.serverproc import Server, free_port

FIXERS = ["drop-scout-outside:render", "clamp-chunk-size:render", "set-name:my_shot"]


@pytest.fixture(scope="module")
def client(server: Server) -> Client:
    return Client(url=server.url, token=server.token, timeout=10)


def test_validate_shows_the_servers_entries_and_fixers_write_back(blender: Blender) -> None:
    result = blender.run("validate_and_fix", fixers=FIXERS)
    assert result["answer"] == ["FINISHED"]
    assert result["timer"] is True  # answers come back through bpy.app.timers
    found = result["validated"]
    assert {"bad-name", "scout-outside-range", "chunk-size-too-large"} <= set(found["codes"])
    assert set(FIXERS) <= set(found["fixers"])
    assert found["level"] == "ERROR"
    panel = result["panel"]  # what the panel's draw() laid out, widget by widget
    for field in ("Job name: my shot", "Frames: 1", "Chunk size: 100", "Scout frames: 1,24,99"):
        assert f"[{field}]" in panel
    buttons = [line for line in panel if line.lstrip().startswith("<button")]
    assert buttons[:3] == ["<button storm.validate>", "<button storm.open_composer>",
                           "<button storm.submit>"]  # fmt: skip
    fix = "<button storm.apply_fixer: Fix: remove scout frames outside 1-48"
    assert f"  {fix} fixer=drop-scout-outside:render>" in panel
    assert "(ERROR) Validated: 2 error(s), 1 warning(s)" in panel
    fixed = result["fixed"]["props"]
    assert fixed["scout_frames"] == "1,24"
    assert fixed["chunk_size"] == 48
    assert fixed["job_name"] == "my_shot"
    assert fixed["frame_start"] == 1 and fixed["frame_end"] == 48
    assert result["revalidated"]["codes"] == []
    assert result["revalidated"]["message"] == "Validated: no problems found"
    # the add-on's own fixer (offered for unsaved changes in the UI) saves, then validates
    assert result["resaved"] is True
    assert result["saved"]["message"] == "Validated: no problems found"


def test_open_in_composer_creates_the_draft_and_opens_the_browser(
    blender: Blender, client: Client
) -> None:
    props = {"chunk_size": 12, "scout_frames": "1,48", "instance_type": "cpu-16", "retries": 2}
    result = blender.run("composer", props=props)
    assert result["answer"] == ["FINISHED"]
    draft = result["draft"]
    assert result["opened"] == [draft["url"]]
    assert "/ui/composer/" + draft["id"] in draft["url"]
    doc = client.get_draft(draft["id"])["document"]
    assert doc["name"] == "shot"
    assert doc["metadata"]["source"] == "blender"
    assert doc["metadata"]["addon"] == blender_addon_version()
    render = next(n for n in doc["nodes"] if n["name"] == "render")
    assert render["frames"] == "1-48"
    assert render["chunk_size"] == 12
    assert render["scout"] == "1,48"
    assert render["instance_type"] == "cpu-16"
    assert render["retries"] == 2
    command = render["commands"][0]
    assert command[:3] == ["python", "-m", "stormflow.demo.blender_render"]
    assert command[command.index("--scene") + 1].endswith("shot.blend")
    assert [n["name"] for n in doc["nodes"]] == ["render", "encode"]
    assert doc["edges"] == [["render", "encode"]]


def test_submit_returns_at_once_and_the_workflow_arrives(blender: Blender, client: Client) -> None:
    # The `blender` renderer: no such binary here, so the open chunk fails fast and nothing
    # renders; this test is about what arrives, the slow one renders.
    props = {"chunk_size": 10, "scout_frames": "25", "retries": 0, "renderer": "blender"}
    result = blender.run("submit", props=props, presses=3)
    assert [p["answer"] for p in result["presses"]] == [["FINISHED"]] * 3
    workflow = result["workflow"]
    assert result["message"] == f"Submitted shot ({workflow['id']}): follow it in the Monitor"
    assert workflow["monitor"].startswith(workflow["url"] + "?token=")
    assert result["opened"] == [workflow["monitor"]]  # Open in Monitor
    ids = {w["id"] for w in client.workflows(name="shot")}
    assert workflow["id"] in ids and len(ids) >= 3  # each press is its own job, in order
    rows = {r["name"]: r["status"] for r in client.nodes(workflow["id"])}
    chunks = ["render.1-10", "render.11-20", "render.21-30", "render.31-40", "render.41-48"]
    assert sorted(rows) == sorted(["encode", *chunks])
    held = [name for name, status in rows.items() if status == "holding"]
    assert sorted(held) == sorted(c for c in chunks if c != "render.21-30")  # scout frame 25
    assert rows["render.21-30"] != "holding"


def test_refusals_are_messages_in_the_panel_and_store_nothing(
    blender: Blender, client: Client
) -> None:
    before = len(client.workflows(limit=1000))
    result = blender.run("refusals", dead_url=f"http://127.0.0.1:{free_port()}")
    assert result["unsaved"][0] == "CANCELLED"
    assert result["unsaved_state"]["codes"] == ["blend-not-saved"]
    assert result["unsaved_state"]["level"] == "ERROR"
    assert result["unreachable"]["level"] == "ERROR"
    assert "cannot reach the Storm server" in result["unreachable"]["message"]
    assert result["wrong_token"]["level"] == "ERROR"
    assert "token" in result["wrong_token"]["message"]
    invalid = result["invalid"]
    assert invalid["level"] == "ERROR"
    assert "scout-outside-range" in invalid["codes"]  # the 422's entries, with fixers
    assert invalid["workflow"] == {}
    assert len(client.workflows(limit=1000)) == before


class _Capture(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        _Capture.seen.append({k.lower(): v for k, v in self.headers.items()})
        body = b'{"entries": [], "errors": 0, "warnings": 0}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_preferences_url_and_token_are_used_and_the_addon_says_its_version(
    blender: Blender,
) -> None:
    capture = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=capture.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{capture.server_address[1]}"
        result = blender.run("agent", capture_url=url)
    finally:
        capture.shutdown()
    assert result["message"] == "Validated: no problems found"
    (headers,) = _Capture.seen
    assert headers["authorization"] == "Bearer capture-token"
    assert headers["x-storm-client"] == f"blender-addon/{blender_addon_version()}"


def test_unregister_removes_the_panel_operators_and_timer(blender: Blender) -> None:
    result = blender.run("unregister")
    assert result == {
        "registered": True,
        "panel_after": False,
        "operator_after": False,
        "timer_after": False,
    }
