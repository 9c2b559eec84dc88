"""`storm uploader`: serves the upload nodes bound to its host from the store, the render
downstream starts once the upload succeeds, kill -9 mid-upload resumes from the stored parts,
cancel and pause reach a running upload, and progress lands in the store."""

from __future__ import annotations

import functools
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from blake3 import blake3

from stormflow import core
from stormflow.core import Status, WorkflowStatus
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.spec import expand, validate
from stormflow.store import Store
from stormflow.uploads.daemon import Uploader

from ..engine.helpers import wait_until
from .conftest import S3, write_random

HOST = socket.gethostname()
KiB = 1024
MiB = 1024 * KiB


def submit(store: Store, doc: dict[str, Any]) -> str:
    errors = [e for e in validate(doc) if e.severity == "error"]
    assert not errors, errors
    plan = expand(doc)
    return store.submit(
        plan.nodes, plan.edges, name=plan.name, metadata={}, actor="artist", at=time.time()
    )


@contextmanager
def uploader(store: Store, data: Path, **kw: Any) -> Iterator[Uploader]:
    daemon = Uploader(store, data, poll_every=0.05, heartbeat_every=0.2, **kw)
    thread = threading.Thread(target=daemon.serve_forever, daemon=True)
    thread.start()
    try:
        yield daemon
    finally:
        daemon.stop()
        thread.join(20)


@contextmanager
def scheduler(store: Store, data: Path) -> Iterator[Scheduler]:
    sched = Scheduler(store, Settings(data_dir=data, supervised=False), slots=2)
    thread = threading.Thread(target=sched.serve_forever, daemon=True)
    thread.start()
    try:
        yield sched
    finally:
        sched.stop()
        thread.join(20)
        sched.close()


def upload_node(files: list[str], destination: str, **extra: Any) -> dict[str, Any]:
    return {"name": "upload", "kind": "upload", "host": HOST, "files": files,
            "destination": destination, **extra}  # fmt: skip


def test_the_render_reads_the_scene_the_uploader_put_on_the_farm(
    tmp_path: Path, store: Store
) -> None:
    data = tmp_path / "data"
    scene = tmp_path / "proj" / "scene.json"
    scene.parent.mkdir()
    scene.write_text('{"particles": 5}')
    farm = tmp_path / "farm"
    out = tmp_path / "rendered.txt"
    read = "import sys; open(sys.argv[2], 'w').write(open(sys.argv[1]).read())"
    doc = {
        "schema": 1,
        "name": "shot",
        "nodes": [
            upload_node(["scene.json"], f"file://{farm}", root=str(scene.parent)),
            {
                "name": "render",
                "kind": "task",
                "commands": [[sys.executable, "-c", read, f"{farm}/scene.json", str(out)]],
            },
        ],
        "edges": [["upload", "render"]],
    }
    workflow_id = submit(store, doc)
    with scheduler(store, data):
        time.sleep(0.3)  # the scheduler alone leaves a host-bound upload to its uploader
        waiting = store.node(workflow_id, "upload").attempts[-1]
        assert waiting.worker is None  # made ready, claimed by nobody: queued for its host
        with uploader(store, data):
            wait_until(
                lambda: store.status(workflow_id) is not WorkflowStatus.RUNNING,
                timeout=20,
                what="the workflow to finish",
            )
    assert store.status(workflow_id) is WorkflowStatus.SUCCEEDED
    assert out.read_text() == '{"particles": 5}'
    attempt = store.node(workflow_id, "upload").attempts[-1]
    assert attempt.worker == f"uploader@{HOST}"
    [row] = store.uploads(workflow_id)
    assert (row["state"], row["files_done"], row["bytes_done"]) == ("done", 1, 16)
    [f] = store.uploaded_files(workflow_id, "upload")
    assert (f["key"], f["state"], f["size"]) == ("scene.json", "done", 16)
    assert f["hash"] == "blake3:" + blake3(b'{"particles": 5}').hexdigest()


def test_another_hosts_uploader_leaves_the_node_alone(tmp_path: Path, store: Store) -> None:
    scene = write_random(tmp_path / "scene.ma", 100)
    doc = {"schema": 1, "name": "shot",
           "nodes": [upload_node([str(scene)], f"file://{tmp_path}/farm")]}  # fmt: skip
    workflow_id = submit(store, doc)
    with uploader(store, tmp_path / "data", host="another-workstation") as daemon:
        time.sleep(0.4)
        assert daemon.running() == []
    assert store.node(workflow_id, "upload").status is Status.OPEN  # no scheduler: not run


def _storm_uploader(data: Path, db: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "stormflow.cli.main", "uploader", "--data-dir", str(data),
         "--db", db],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # one backend is enough here
def test_kill_9_mid_upload_resumes_from_the_parts_stored_in_the_bucket(
    tmp_path: Path, store_url: str, s3: S3
) -> None:
    store = Store(store_url)
    part = 5 * MiB  # S3's smallest part
    big = write_random(tmp_path / "proj" / "cache.vdb", part * 2 + 10, 9)
    doc = {"schema": 1, "name": "sim",
           "nodes": [upload_node([str(big)], s3.url(), endpoint_url=s3.endpoint,
                                 root=str(big.parent), part_size=part, workers=1,
                                 max_rate=5 * MiB)]}  # fmt: skip
    workflow_id = submit(store, doc)
    data = tmp_path / "data"
    with scheduler(store, tmp_path / "farm-data"):  # the farm's scheduler makes it ready
        _kill_and_resume(store, store_url, workflow_id, data)
    node = store.node(workflow_id, "upload")
    assert node.status is Status.SUCCEEDED, node.attempts[-1].error
    # Taken over by the restarted uploader (same attempt), or recorded lost by the scheduler
    # of this host first and retried at once without spending a retry: either way resumed.
    assert len(node.attempts) <= 2
    [row] = store.uploads(workflow_id)
    assert row["bytes_saved"] >= part  # the stored parts were not sent again
    assert row["bytes_done"] == big.stat().st_size
    body = s3.client().get_object(Bucket=s3.bucket, Key="proj/cache.vdb")["Body"].read()  # type: ignore[attr-defined]
    assert body == big.read_bytes()
    store.close()


def _kill_and_resume(store: Store, store_url: str, workflow_id: str, data: Path) -> None:
    first = _storm_uploader(data, store_url)
    try:

        def parts_stored() -> bool:
            files = store.uploaded_files(workflow_id, "upload")
            return bool(files) and len(files[0]["parts"]) >= 1 and files[0]["state"] == "sending"

        wait_until(parts_stored, timeout=30, what="a stored part")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    [f] = store.uploaded_files(workflow_id, "upload")
    kept = len(f["parts"])
    assert 1 <= kept < 3 and f["upload_id"]
    assert store.node(workflow_id, "upload").status is Status.RUNNING

    second = _storm_uploader(data, store_url)
    try:
        wait_until(
            lambda: store.node(workflow_id, "upload").status is not Status.RUNNING,
            timeout=30,
            what="the resumed upload",
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)


def test_cancel_stops_a_running_upload_and_pause_holds_it(tmp_path: Path, store: Store) -> None:
    big = write_random(tmp_path / "proj" / "plate.exr", 2 * MiB, 4)
    doc = {"schema": 1, "name": "shot",
           "nodes": [upload_node([str(big)], f"file://{tmp_path}/farm", root=str(big.parent),
                                 part_size=64 * KiB, workers=1, max_rate=1 * MiB)]}  # fmt: skip
    workflow_id = submit(store, doc)
    data = tmp_path / "data"
    with scheduler(store, tmp_path / "farm-data"), uploader(store, data) as daemon:
        wait_until(lambda: daemon.running(), timeout=10, what="the upload to start")

        def done_bytes() -> int:
            files = store.uploaded_files(workflow_id, "upload")
            return int(files[0]["bytes_done"]) if files else 0

        wait_until(lambda: done_bytes() > 0, timeout=10, what="bytes moving")
        assert store.set_upload_paused(workflow_id, "upload", True)

        def parts() -> int:
            return len(store.uploaded_files(workflow_id, "upload")[0]["parts"])

        def settled() -> bool:  # the transfer sees the flag between two parts
            before = parts()
            time.sleep(0.5)
            return parts() == before

        wait_until(settled, timeout=15, what="the transfer to hold between two parts")
        held = parts()
        time.sleep(0.5)
        assert parts() == held
        assert store.uploads(workflow_id)[0]["paused"]
        assert store.set_upload_paused(workflow_id, "upload", False)
        wait_until(
            lambda: parts() > held,
            timeout=10,
            what="parts moving again",
        )
        store.transact(
            workflow_id, functools.partial(core.cancel, names=["upload"], at=time.time())
        )
        wait_until(lambda: not daemon.running(), timeout=10, what="the uploader to stop it")
    assert store.node(workflow_id, "upload").status is Status.CANCELED
    assert not (tmp_path / "farm" / "plate.exr").exists()  # never completed
    assert not store.set_upload_paused(workflow_id, "nope", True)


def test_many_callers_pausing_at_once_leave_one_consistent_row(
    tmp_path: Path, store: Store
) -> None:
    """More callers than the connection pool holds: every call answers, none is lost."""
    scene = write_random(tmp_path / "scene.ma", 10)
    doc = {"schema": 1, "name": "shot",
           "nodes": [upload_node([str(scene)], f"file://{tmp_path}/farm")]}  # fmt: skip
    workflow_id = submit(store, doc)
    answers: list[bool] = []
    lock = threading.Lock()

    def flip(n: int) -> None:
        ok = store.set_upload_paused(workflow_id, "upload", n % 2 == 0)
        with lock:
            answers.append(ok)

    threads = [threading.Thread(target=flip, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == [True] * 40
    assert len(store.uploads(workflow_id)) == 1
