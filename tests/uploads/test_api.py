"""The uploads API: figures per node and per file, pause/resume, bad input as 4xx JSON with
nothing stored, and the live progress stream (SSE) while a transfer moves."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx

from stormflow.api.app import create_app
from stormflow.store import Store
from stormflow.uploads.destinations import parse_destination
from stormflow.uploads.manifest import resolve
from stormflow.uploads.storeledger import StoreLedger
from stormflow.uploads.transfer import Options, Transfer

from ..api.helpers import API, TOKEN, client, live_server
from .conftest import write_random

KiB = 1024


def _doc(tmp_path: Path, scene: Path) -> dict[str, Any]:
    return {
        "schema": 1,
        "name": "shot",
        "nodes": [
            {"name": "up", "kind": "upload", "files": [str(scene)], "root": str(scene.parent),
             "destination": f"file://{tmp_path}/farm"},
            {"name": "render", "kind": "task", "commands": [["true"]]},
        ],
        "edges": [["up", "render"]],
    }  # fmt: skip


def _transfer(store: Store, wf: str, scene: Path, tmp_path: Path, **opts: Any) -> Transfer:
    ledger = StoreLedger(store, wf, "up", token="up#1", destination=f"file://{tmp_path}/farm")
    files = resolve([str(scene)], root=str(scene.parent)).files
    dest = parse_destination(f"file://{tmp_path}/farm")
    return Transfer(files, dest, ledger, options=Options(**opts))


def test_figures_pause_and_bad_input(tmp_path: Path, store: Store, data_dir: Path) -> None:
    scene = write_random(tmp_path / "proj" / "scene.ma", 200 * KiB)
    with client(store, data_dir) as api:
        answer = api.post(f"{API}/workflows", json=_doc(tmp_path, scene))
        assert answer.status_code == 201, answer.text
        wf = answer.json()["id"]
        assert api.get(f"{API}/workflows/{wf}/uploads").json() == {"uploads": []}

        # bad input: unknown workflow, a task node, an unknown node: 404 JSON, nothing stored
        for url, code in (
            (f"{API}/workflows/nope/uploads/up/pause", "unknown-workflow"),
            (f"{API}/workflows/{wf}/uploads/render/pause", "unknown-upload"),
            (f"{API}/workflows/{wf}/uploads/ghost/resume", "unknown-upload"),
        ):
            bad = api.post(url)
            assert bad.status_code == 404 and bad.json()["error"]["code"] == code, bad.text
        assert api.get(f"{API}/workflows/{wf}/uploads/up/files").status_code == 404
        assert store.uploads(wf) == []

        assert api.post(f"{API}/workflows/{wf}/uploads/up/pause").json()["paused"] is True
        [row] = api.get(f"{API}/workflows/{wf}/uploads").json()["uploads"]
        assert (row["node"], row["paused"], row["state"]) == ("up", True, "paused")
        assert api.post(f"{API}/workflows/{wf}/uploads/up/resume").json()["paused"] is False

        summary = _transfer(store, wf, scene, tmp_path, part_size=64 * KiB).run()
        assert summary.sent_files == 1
        [row] = api.get(f"{API}/workflows/{wf}/uploads").json()["uploads"]
        assert (row["state"], row["bytes_done"], row["bytes_total"]) == (
            "done",
            200 * KiB,
            200 * KiB,
        )
        [f] = api.get(f"{API}/workflows/{wf}/uploads/up/files").json()["files"]
        assert (f["key"], f["state"], f["bytes_done"], f["parts"]) == (
            "scene.ma",
            "done",
            200 * KiB,
            4,
        )
        assert api.get(f"{API}/workflows/{wf}/uploads/up/files?limit=0").status_code == 422


def test_the_stream_sends_progress_while_the_transfer_moves(
    tmp_path: Path, store: Store, data_dir: Path
) -> None:
    scene = write_random(tmp_path / "proj" / "scene.ma", 768 * KiB)
    app = create_app(store, data_dir=data_dir, token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with live_server(app) as base:
        answer = httpx.post(f"{base}{API}/workflows", json=_doc(tmp_path, scene), headers=headers)
        wf = answer.json()["id"]
        transfer = _transfer(
            store, wf, scene, tmp_path, part_size=64 * KiB, workers=1, max_rate=512 * KiB,
            progress_every=0.1,
        )  # fmt: skip
        frames: list[dict[str, Any]] = []
        thread = threading.Thread(target=transfer.run)
        with httpx.stream(
            "GET", f"{base}{API}/workflows/{wf}/uploads/stream", headers=headers, timeout=20
        ) as stream:
            thread.start()
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    frames.append(json.loads(line[6:]))
                    ups = frames[-1]["uploads"]
                    if ups and ups[0]["state"] == "done":
                        break
        thread.join(20)
    moving = [f for f in frames if f["uploads"] and f["uploads"][0]["state"] == "sending"]
    assert moving, frames
    assert any(f["sending"].get("up") for f in moving)  # per-file bars while it moves
    assert any(f["uploads"][0]["rate"] > 0 and f["uploads"][0]["eta"] for f in moving)
    assert frames[-1]["uploads"][0]["bytes_done"] == 768 * KiB


def test_parts_are_recorded_in_batches_and_whole_when_done(
    tmp_path: Path, store: Store, data_dir: Path
) -> None:
    """No commit per part on the hot path; the finished file's record lists every part."""
    scene = write_random(tmp_path / "proj" / "scene.ma", 64 * 16 * KiB)  # 64 parts
    with client(store, data_dir) as api:
        wf = api.post(f"{API}/workflows", json=_doc(tmp_path, scene)).json()["id"]
        writes: list[int] = []
        update = store.upload_files_update

        def counting(*args: Any, **kw: Any) -> Any:
            writes.append(1)
            return update(*args, **kw)

        store.upload_files_update = counting  # type: ignore[method-assign]
        transfer = _transfer(store, wf, scene, tmp_path, part_size=16 * KiB, workers=1)
        assert transfer.run().sent_files == 1
        del store.upload_files_update
        assert len(writes) < 64 // 2, len(writes)
        [f] = api.get(f"{API}/workflows/{wf}/uploads/up/files").json()["files"]
        assert (f["state"], f["bytes_done"]) == ("done", 64 * 16 * KiB)
        assert f["parts"] == 64
        [row] = store.uploaded_files(wf, "up")
        assert sorted(int(n) for n in row["parts"]) == list(range(1, 65))
        assert (tmp_path / "farm" / "scene.ma").read_bytes() == scene.read_bytes()
