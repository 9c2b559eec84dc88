"""Blender tests: the add-on and the render helper inside a real Blender (the bpy module).

Each scenario runs in its own Python process (tests/blender/inside.py): bpy is one Blender
per process, with its own bundled libraries, kept out of the test runner's process. Without
bpy (`make blender`) these tests skip, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.client.serverproc import Server, clean_env, run_server

INSIDE = Path(__file__).with_name("inside.py")
ROOT = Path(__file__).resolve().parents[2]


def need_bpy() -> None:
    if importlib.util.find_spec("bpy") is not None:
        return
    message = "no bpy module (Blender as a Python module): run `make blender`"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    need_bpy()
    yield from run_server(tmp_path_factory.mktemp("blender") / "home")


class Blender:
    """Runs inside.py scenarios against one server, each in a fresh Blender."""

    def __init__(self, server: Server, tmp: Path) -> None:
        self.server = server
        self.tmp = tmp
        self.count = 0

    def run(self, scenario: str, timeout: float = 120, **args: Any) -> dict[str, Any]:
        self.count += 1
        work = self.tmp / f"{scenario}-{self.count}"
        work.mkdir()
        env = clean_env(self.server.home)  # finds the server through STORM_HOME/server.json
        env["BLENDER_USER_RESOURCES"] = str(work / "blender")  # add-ons install here
        env["PYTHONPATH"] = str(ROOT)
        payload = {"server": self.server.url, "token": self.server.token, "tmp": str(work)}
        payload.update(args)
        done = subprocess.run(
            [sys.executable, str(INSIDE), scenario, json.dumps(payload)],
            capture_output=True,
            text=True,
            env=env,
            cwd=work,
            timeout=timeout,
        )
        lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
        if not lines or done.returncode != 0:
            pytest.fail(
                f"Blender scenario {scenario} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return json.loads(lines[-1][len("RESULT ") :])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def blender(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Blender:
    return Blender(server, tmp_path_factory.mktemp("scenes"))
