"""`storm server` as a real process: token, auth, a workflow run by the embedded scheduler,
graceful SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import API, free_port
from tests.api.prometheus import parse, value

STORM = [sys.executable, "-m", "stormflow.cli.main"]


def wait_for(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


@pytest.mark.slow
def test_server_runs_a_workflow_and_shuts_down_gracefully(tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    proc = subprocess.Popen(
        [*STORM, "server", "--port", str(port), "--data-dir", str(home), "--slots", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        info = home / "server.json"
        wait_for(info.exists, 30, "server.json")
        token = (home / "token").read_text().strip()
        assert stat.S_IMODE((home / "token").stat().st_mode) == 0o600
        url = f"http://127.0.0.1:{port}"
        assert json.loads(info.read_text()) == {"url": url, "pid": proc.pid}
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"Storm server: {url}/?token={token}"

        with httpx.Client(base_url=url, timeout=10) as bare:
            health = bare.get(f"{API}/health")
            assert health.status_code == 200 and health.json()["scheduler"] is True
            assert bare.get(f"{API}/workflows").status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=auth, timeout=10) as http:
            say = [sys.executable, "-c", "print('hello from', 'storm')"]
            doc = {
                "schema": 1,
                "name": "served",
                "nodes": [{"name": "a", "commands": [say]}, {"name": "b", "commands": [say]}],
                "edges": [["a", "b"]],
            }
            wf = http.post(f"{API}/workflows", json=doc).json()["id"]

            def status() -> str | None:
                got = str(http.get(f"{API}/workflows/{wf}").json()["status"])
                return got if got != "running" else None

            assert wait_for(status, 30, "the workflow to finish") == "succeeded"
            log = http.get(f"{API}/workflows/{wf}/nodes/b/log")
            assert "hello from storm" in log.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
        assert not info.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_binding_beyond_loopback_without_a_token_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [*STORM, "server", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "fresh")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "without a token is refused" in done.stderr
    assert not (tmp_path / "fresh" / "token").exists()


@pytest.mark.slow
def test_a_killed_scheduler_child_is_restarted_and_the_workflow_finishes(tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    proc = subprocess.Popen(
        [*STORM, "server", "--port", str(port), "--data-dir", str(home), "--slots", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for((home / "server.json").exists, 30, "server.json")
        token = (home / "token").read_text().strip()
        url = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=auth, timeout=10) as http:

            def child() -> dict:  # type: ignore[type-arg]
                return dict(http.get(f"{API}/health").json()["scheduler_process"])

            first = child()
            assert first["alive"] and first["pid"] != proc.pid and first["restarts"] == 0
            doc = {
                "schema": 1,
                "name": "survivor",
                "nodes": [
                    {"name": "a", "frames": "1-6", "chunk_size": 1, "commands": [["sleep", "0.5"]]},
                    {"name": "b", "commands": [["true"]]},
                ],
                "edges": [["a", "b"]],
            }
            wf = http.post(f"{API}/workflows", json=doc).json()["id"]
            wait_for(
                lambda: http.get(f"{API}/workflows/{wf}").json()["counts"]["running"] > 0,
                30,
                "a running task",
            )
            os.kill(first["pid"], signal.SIGKILL)  # mid-task: its attempts are recovered
            second = wait_for(
                lambda: (h := child())["alive"] and h["restarts"] == 1 and h,
                30,
                "the restarted child",
            )
            assert second["pid"] != first["pid"]
            assert second["last_error"] == "killed by SIGKILL"

            def status() -> str | None:
                got = str(http.get(f"{API}/workflows/{wf}").json()["status"])
                return got if got != "running" else None

            assert wait_for(status, 60, "the workflow to finish") == "succeeded"

            def figures() -> dict | None:  # type: ignore[type-arg]
                found = parse(http.get("/metrics").text)[1]  # the child reports once a second
                return found if value(found, "storm_results_total") > 0 else None

            found = wait_for(figures, 10, "the child's figures")
            assert value(found, "storm_scheduler_restarts_total") == 1
            assert value(found, "storm_scheduler_up") == 1
            assert value(found, "storm_dispatch_latency_seconds_count") > 0
            assert value(found, "storm_transaction_seconds_count") > 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        with pytest.raises(ProcessLookupError):  # the child stopped with the server
            os.kill(second["pid"], 0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_a_killed_server_takes_its_scheduler_child_down_and_leaves_its_commands(
    tmp_path: Path,
) -> None:
    """kill -9 of the server: its child sees the pipe close and exits at once, as abruptly,
    leaving its command running under the supervisor with its lease (no hand-back), so the
    next server adopts it instead of running it again (tests/engine/test_restart.py)."""
    from stormflow.store import Store

    home, port, pids = tmp_path / "home", free_port(), tmp_path / "pids"
    proc = subprocess.Popen(
        [*STORM, "server", "--port", str(port), "--data-dir", str(home), "--slots", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for((home / "server.json").exists, 30, "server.json")
        token = (home / "token").read_text().strip()
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=10) as http:
            child = http.get(f"{API}/health").json()["scheduler_process"]["pid"]
            doc = {
                "schema": 1,
                "name": "long",
                "nodes": [{"name": "a", "commands": [f"echo $$ > {pids}; exec sleep 60"]}],
            }
            wf = http.post(f"{API}/workflows", json=doc).json()["id"]
            wait_for(lambda: pids.exists() and pids.read_text().strip(), 30, "the command")
        proc.kill()
        proc.wait()

        def child_gone() -> bool:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                return True
            return False

        wait_for(child_gone, 30, "the child to exit")
        command = int(pids.read_text())
        os.kill(command, 0)  # still running
        store = Store.default(home)
        try:
            assert store.expired(time.time()) == []  # its lease kept, for adoption
            (row,) = store.attempts(wf, "a")
            assert row.attempt.result is None
        finally:
            store.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if pids.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.killpg(int(pids.read_text()), signal.SIGKILL)
