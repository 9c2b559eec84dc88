"""One owner per embedded store (issue 11, finding 3).

A second `storm server` or `storm scheduler` on a SQLite data directory that a server already
serves is refused before it binds anything (exit 2, one line naming the owner), whether its port
is free or busy; the owner's `server.json` is never touched. `storm run` there hands its
workflow to the owner. The lock dies with its process: after kill -9 (even while the dead owner
is a zombie nobody reaped) a new owner starts at once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from stormflow.store import Store
from tests.client.serverproc import STORM, clean_env, free_port, run_server
from tests.engine.helpers import wait_until

pytestmark = pytest.mark.slow


def storm(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STORM, *args], capture_output=True, text=True, env=clean_env(home), timeout=timeout
    )


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/api/v1/health", timeout=2) as response:
            return bool(json.load(response).get("status") == "ok")
    except OSError:
        return False


def refusal(who: str, home: Path) -> str:
    return f"storm: error: a Storm {who} already uses {home}\n"


@contextmanager
def served(home: Path) -> Iterator[tuple[str, int, str]]:
    """A server on `home`: (url, pid, server.json text)."""
    running = run_server(home)
    server = next(running)
    try:
        info = (home / "server.json").read_text()
        yield server.url, json.loads(info)["pid"], info
    finally:
        running.close()


@pytest.mark.parametrize("port", ["free", "busy"])
def test_a_second_server_is_refused_and_leaves_the_first_alone(tmp_path: Path, port: str) -> None:
    home = tmp_path / "home"
    with served(home) as (url, pid, info):
        number = free_port() if port == "free" else int(url.rsplit(":", 1)[1])
        done = storm(home, "server", "--port", str(number), "--data-dir", str(home))
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr == refusal(f"server (pid {pid}, {url})", home)
        assert (home / "server.json").read_text() == info
        assert healthy(url)
        if port == "free":  # nothing listens there: it was refused before binding
            with socket.socket() as probe:
                assert probe.connect_ex(("127.0.0.1", number)) != 0

        done = storm(home, "scheduler", "--data-dir", str(home))
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr == refusal(f"server (pid {pid}, {url})", home)
        assert (home / "server.json").read_text() == info


def test_a_busy_port_is_one_line_and_touches_no_other_server(tmp_path: Path) -> None:
    home, other = tmp_path / "home", tmp_path / "other"
    with served(home) as (url, _pid, info):
        port = url.rsplit(":", 1)[1]
        done = storm(other, "server", "--port", port, "--data-dir", str(other))
        assert done.returncode == 2, done.stdout + done.stderr
        busy = f"cannot listen on 127.0.0.1:{port}: address already in use"
        assert done.stderr == f"storm: error: {busy}\n"
        assert (home / "server.json").read_text() == info
        assert not (other / "server.json").exists()
        assert healthy(url)


def test_storm_run_hands_its_workflow_to_the_owner(tmp_path: Path) -> None:
    home = tmp_path / "home"
    doc = tmp_path / "wf.yaml"
    doc.write_text("schema: 1\nname: handed\nnodes:\n  - {name: a, commands: ['true']}\n")
    with served(home) as (_url, pid, _info):
        done = storm(home, "run", str(doc), "--quiet")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"run by a Storm server (pid {pid}" in done.stdout
        store = Store.default(home)
        try:
            (wf,) = store.workflows()
            (row,) = store.attempts(wf.id, "a")
            assert row.attempt.result == "succeeded"
            assert (row.attempt.worker or "").split(":")[1].split(".")[0] == str(pid)
        finally:
            store.close()


def test_a_killed_owner_left_a_zombie_is_replaced_at_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = subprocess.Popen(
        [STORM, "scheduler", "--data-dir", str(home)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=clean_env(home),
    )  # fmt: skip
    try:
        wait_until(lambda: (home / "owner.lock").exists() and (home / "owner.lock").read_text())
        refused = storm(home, "scheduler", "--data-dir", str(home))
        assert refused.returncode == 2
        assert refused.stderr == refusal(f"scheduler (pid {first.pid})", home)
        os.kill(first.pid, signal.SIGKILL)
        wait_until(lambda: Path(f"/proc/{first.pid}/stat").read_text().split(") ")[1][0] == "Z")
        # not reaped: a zombie answers kill(pid, 0), yet the store is free at once
        port = free_port()
        began = time.monotonic()
        proc = subprocess.Popen(
            [STORM, "server", "--port", str(port), "--data-dir", str(home)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(home),
        )  # fmt: skip
        try:
            wait_until(lambda: healthy(f"http://127.0.0.1:{port}"), timeout=30)
            assert time.monotonic() - began < 30
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    finally:
        first.kill()
        first.wait()
