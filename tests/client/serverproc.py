"""A real `storm server` in a subprocess, shared by tests/client and tests/cli_remote.

Skips (reason "server not available yet") while the `server` command does not exist.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent
STORM = str(BIN / "storm")


@dataclass
class Server:
    url: str
    home: Path
    token: str
    env: dict[str, str]  # for subprocesses: STORM_HOME set, STORM_SERVER/TOKEN not

    def storm(self, *args: str, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
        """Run the venv's `storm` as a user would, finding the server through STORM_HOME."""
        return subprocess.run(
            [STORM, *args], capture_output=True, text=True, env=self.env, timeout=timeout, **kw
        )


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORM_")}
    env["STORM_HOME"] = str(home)
    env["STORM_MAIL_OUTBOX"] = str(home / "outbox")
    env["COLUMNS"] = "200"  # Rich tables: no wrapped names in assertions
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_server(home: Path, extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """The server, its environment clean but for STORM_HOME, the outbox and `extra_env`."""
    env = {**clean_env(home), **(extra_env or {})}
    probe = subprocess.run([STORM, "server", "--help"], capture_output=True, env=env)
    if probe.returncode != 0:
        pytest.skip("server not available yet (no `storm server` command)")
    port = free_port()
    log = open(home.parent / f"server-{port}.log", "w+b")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [STORM, "server", "--port", str(port), "--data-dir", str(home)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(
                    f"storm server exited {proc.returncode}:\n{log.read().decode()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(url + "/api/v1/health", timeout=2) as response:
                    if json.load(response).get("status") == "ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("storm server did not answer /api/v1/health within 30 s")
            time.sleep(0.1)
        token = (home / "token").read_text().strip()
        yield Server(url=url, home=home, token=token, env=env)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def wait_for(predicate: Callable[[], Any], timeout: float = 30, every: float = 0.1) -> Any:
    """The first truthy value of predicate(), or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {predicate}")
        time.sleep(every)
