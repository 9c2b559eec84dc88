"""kill -9 of `storm server` while callers store templates: after a restart on the same
data directory every template whose store was answered 201 is there, whole; nothing is
half stored, and names stay unique."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.client.serverproc import STORM, clean_env, free_port

pytestmark = pytest.mark.slow

CALLERS = 6


def document(name: str) -> dict[str, Any]:
    return {
        "name": f"{name}-${{shot}}",
        "params": {"shot": {"type": "string", "default": name}},
        "nodes": [{"name": "render", "commands": [["echo", name, "${shot}"]]}],
    }


def start(home: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    proc = subprocess.Popen(
        [STORM, "server", "--port", str(port), "--data-dir", str(home)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean_env(home),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api/v1"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
    return proc, url, (home / "token").read_text().strip()


def call(url: str, token: str, method: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)


def test_templates_acknowledged_before_a_kill_9_are_all_there_whole(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc, url, token = start(home)
    acknowledged: set[str] = set()
    halt = threading.Event()

    def caller(i: int) -> None:
        k = 0
        while not halt.is_set():
            name = f"t{i}_{k}"
            try:
                status, _body = call(
                    f"{url}/templates", token, "POST", {"name": name, "document": document(name)}
                )
            except OSError:  # the server is gone
                return
            if status == 201:
                acknowledged.add(name)
            k += 1

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(CALLERS)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        halt.set()
        for t in threads:
            t.join(timeout=15)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert len(acknowledged) >= 20
    proc, url, token = start(home)
    try:
        status, listed = call(f"{url}/templates", token, "GET")
        assert status == 200
        stored = {t["name"] for t in listed["templates"]}
        assert acknowledged <= stored
        assert len(stored - acknowledged) <= CALLERS  # at most the stores in flight
        for name in stored:
            status, one = call(f"{url}/templates/{name}", token, "GET")
            assert status == 200 and one["document"] == document(name)
        name = sorted(acknowledged)[0]
        again = call(f"{url}/templates", token, "POST", {"name": name, "document": document(name)})
        assert again[0] == 409
    finally:
        stop(proc)
