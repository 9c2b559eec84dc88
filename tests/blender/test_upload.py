"""The add-on's "Upload scene and dependencies" inside a real Blender, against a real
`storm server` and the `storm uploader` the add-on starts (see conftest.py)."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stormflow import client as dcc
from stormflow.client import Client
from tests.blender.conftest import Blender
from tests.blender.test_render import _looks_rendered
from tests.client.serverproc import STORM, Server, free_port, wait_for


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[Client]:
    yield Client(url=server.url, token=server.token, timeout=10)
    pid = dcc.uploader_pid(str(server.home))  # the daemon the add-on started
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while dcc.uploader_pid(str(server.home)) is not None and time.monotonic() < deadline:
            time.sleep(0.05)


def _submit(blender: Blender, tmp: Path, **props: Any) -> dict[str, Any]:
    base = {"upload": True, "chunk_size": 1, "make_movie": False, "retries": 0}
    return blender.run("upload", props={**base, **props}, storm=STORM, frames="1-2")


def _finished(client: Client, workflow_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        summary = client.workflow(workflow_id)
        return summary if summary["status"] not in ("running", "open") else None

    return wait_for(done, timeout=180, every=0.5)  # type: ignore[no-any-return]


def test_submit_uploads_the_blend_and_its_texture_before_the_renders(
    blender: Blender, client: Client, server: Server, tmp_path: Path
) -> None:
    farm = tmp_path / "farm"
    # the `blender` renderer: no such binary here, so the chunks fail at once after the
    # upload; the slow test below renders for real from the farm's copy
    result = _submit(blender, tmp_path, upload_destination=f"file://{farm}", renderer="blender")
    assert result["answer"] == ["FINISHED"]
    assert result["threads"] == ["storm-addon"] * 2  # Composer, Submit: off the UI thread
    validated = result["validated"]
    assert "dependency-missing" in validated["codes"] and "dependency-packed" in validated["codes"]
    assert validated["level"] != "ERROR", validated
    panel = result["panel"]
    assert "[Upload scene and dependencies: True]" in panel
    assert f"[Destination: file://{farm}]" in panel
    assert not any(line.startswith("[Endpoint URL") for line in panel)  # S3 only
    draft = client.get_draft(result["draft"]["id"])["document"]  # Open in Composer
    assert draft["nodes"][0]["name"] == "upload_scene" and draft["nodes"][0]["kind"] == "upload"
    assert ["upload_scene", "render"] in draft["edges"]
    workflow = result["workflow"]
    assert result["level"] == "INFO", result["message"]
    assert result["message"].startswith("Submitted shot (")
    blend = Path(result["blend"])
    work = blend.parent
    node = client.node(workflow["id"], "upload_scene")
    config = node["current"]
    assert node["kind"] == "upload", node
    assert config["host"] == socket.gethostname()
    assert config["root"] == str(work)
    assert sorted(config["files"]) == sorted([str(blend), str(work / "textures" / "wood.png")])
    assert node["downstream"] == ["render.1", "render.2"]  # every chunk waits for it
    _finished(client, workflow["id"])
    rows = {r["name"]: r["status"] for r in client.nodes(workflow["id"])}
    assert rows["upload_scene"] == "succeeded", client.log(workflow["id"], "upload_scene")
    # the scene and its texture at the destination, at their paths relative to the root
    assert (farm / "shot.blend").read_bytes() == blend.read_bytes()
    assert (farm / "textures" / "wood.png").read_bytes() == (
        work / "textures/wood.png"
    ).read_bytes()
    assert not (farm / "textures" / "logo.png").exists()  # packed: inside the .blend
    uploaded = client.node(workflow["id"], "upload_scene")["attempts"][-1]
    for chunk in ("render.1", "render.2"):
        render = client.node(workflow["id"], chunk)
        (command,) = render["current"]["commands"]
        assert command[:3] == ["blender", "-b", str(farm / "shot.blend")]  # the farm's copy
        assert render["attempts"][0]["created_at"] >= uploaded["ended_at"]  # after the upload


def test_upload_refusals_are_messages_in_the_panel_and_store_nothing(
    blender: Blender, client: Client, tmp_path: Path
) -> None:
    before = len(client.workflows(limit=1000))
    (tmp_path / "a-file").write_text("not a directory")
    unwritable = f"file://{tmp_path}/a-file/farm"
    destinations = {
        "unparsable": "ftp://farm/sh010",
        "unwritable": unwritable,
        "no_bucket_server": "s3://farm/sh010",
    }
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: the bucket does not answer
    result = blender.run("upload_refusals", destinations=destinations, no_bucket_server=dead)
    assert result["empty"][0] == "CANCELLED"
    assert result["empty_state"]["codes"][-1] == "upload-no-destination"
    assert result["empty_state"]["level"] == "ERROR"
    for key, code in (
        ("unparsable", "bad-destination"),
        ("unwritable", "unreachable-destination"),
        ("no_bucket_server", "unreachable-destination"),
    ):
        state = result[key]
        assert state["level"] == "ERROR", state
        assert code in state["codes"], state
        assert state["workflow"] == {}
    assert "a-file is not a directory" in result["unwritable"]["message"] or any(
        "a-file is not a directory" in m for m in result["unwritable"]["messages"]
    )
    assert result["threads"] == []  # nothing stored: no uploader started
    assert len(client.workflows(limit=1000)) == before


@pytest.mark.slow
def test_the_farm_renders_the_uploaded_scene(
    blender: Blender, client: Client, server: Server, tmp_path: Path
) -> None:
    farm = tmp_path / "farm"
    result = _submit(blender, tmp_path, upload_destination=f"file://{farm}", job_name="up")
    workflow_id = result["workflow"]["id"]
    summary = _finished(client, workflow_id)
    assert summary["status"] == "succeeded", client.log(workflow_id, "render.1")
    for frame in (1, 2):
        _looks_rendered(server.home / "work" / workflow_id / "renders" / f"frame.{frame:04d}.png")
    (command,) = client.node(workflow_id, "render.1")["current"]["commands"]
    assert command[command.index("--scene") + 1] == str(farm / "shot.blend")
