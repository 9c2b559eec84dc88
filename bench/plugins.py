"""`python -m bench.plugins`: what plugins cost (the example plugin, storm-ffmpeg, installed).

1. Loading: a fresh interpreter's first use of the kinds registry (imports included), with
   `STORM_PLUGINS=off` and with the installed plugins (alternating, median of 7 each): what
   a plugin adds to every `storm` command, the server and each worker.
2. Validation: a document of 1,000 `ffmpeg` nodes (each rule of the plugin runs behind its
   guard), against the same document as 1,000 `task` nodes.
3. The `X-Storm-Client` header: GET /api/v1/limits in-process without and with it, in
   alternating rounds (same version each time: the store is written once), and the
   middleware's own work per request (parse, look up, compare) timed alone.

Informational figures (no targets); nothing asserts.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import Report

LOAD = "import time; t = time.perf_counter(); from stormflow.kinds import kind_names; kind_names(); print(time.perf_counter() - t)"  # noqa: E501


def _load_seconds(runs: int = 7) -> tuple[float, float]:
    """Medians without and with plugins, runs alternating (the machine's speed drifts)."""
    times: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(runs):
        for mode in ("off", "on"):
            out = subprocess.run(
                [sys.executable, "-c", LOAD],
                capture_output=True,
                text=True,
                env={**os.environ, "STORM_PLUGINS": mode},
                check=True,
            )
            times[mode].append(float(out.stdout.strip()))
    return statistics.median(times["off"]), statistics.median(times["on"])


def _validate_seconds(kind: str, nodes: int = 1000, runs: int = 5) -> float:
    from stormflow.spec import validate

    if kind == "ffmpeg":
        made = [
            {"name": f"m{i}", "kind": "ffmpeg", "input": f"r{i}", "output": f"m{i}.mp4"}
            for i in range(nodes)
        ]
    else:
        made = [{"name": f"m{i}", "commands": [["echo", str(i)]]} for i in range(nodes)]
    doc = {"schema": 1, "name": "bench", "nodes": made, "edges": []}
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        entries = validate(doc)
        times.append(time.perf_counter() - t)
        assert not entries, entries[:3]
    return statistics.median(times)


def _header_seconds(rounds: int = 10, calls: int = 200) -> tuple[float, float]:
    """Per-request seconds without and with the header: rounds alternate (this machine's
    speed drifts within a minute), medians of the rounds."""
    from fastapi.testclient import TestClient

    from stormflow.api.app import create_app
    from stormflow.store import Store

    plain = {"Authorization": "Bearer " + "t" * 32}
    marked = {**plain, "X-Storm-Client": "blender-addon/1.0.0"}
    without: list[float] = []
    with_header: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/storm.db")
        app = create_app(store, data_dir=Path(tmp), token="t" * 32)
        with TestClient(app) as client:
            client.get("/api/v1/limits", headers=marked)  # the one write
            for _ in range(rounds):
                for headers, into in ((plain, without), (marked, with_header)):
                    t = time.perf_counter()
                    for _ in range(calls):
                        client.get("/api/v1/limits", headers=headers)
                    into.append((time.perf_counter() - t) / calls)
        store.close()
    return statistics.median(without), statistics.median(with_header)


def _middleware_seconds(calls: int = 20000) -> float:
    """The header's own cost: parse, find the integration, compare with the last write."""
    from stormflow.api.clients import ClientSightings, integration_for, parse_client

    sightings = ClientSightings(None)
    sightings.due("blender", "1.0.0", time.time())
    t = time.perf_counter()
    for _ in range(calls):
        parsed = parse_client("blender-addon/1.0.0")
        assert parsed is not None
        found = integration_for(parsed[0])
        assert found is not None and not sightings.due(found, parsed[1], time.time())
    return (time.perf_counter() - t) / calls


def main() -> int:
    from stormflow.kinds import get_kind

    if get_kind("ffmpeg") is None:
        print(
            "install the example plugin first: .venv/bin/pip install --no-deps "
            "--no-build-isolation examples/plugins/storm-ffmpeg",
            file=sys.stderr,
        )
        return 2
    report = Report()
    off, on = _load_seconds()
    report.info("-", "plugins", "registry load, plugins off (ms)", f"{off * 1000:.1f}")
    report.info("-", "plugins", "registry load, storm-ffmpeg (ms)", f"{on * 1000:.1f}")
    ffmpeg, task = _validate_seconds("ffmpeg"), _validate_seconds("task")
    report.info("-", "plugins", "validate 1,000 task nodes (ms)", f"{task * 1000:.1f}")
    report.info("-", "plugins", "validate 1,000 ffmpeg nodes (ms)", f"{ffmpeg * 1000:.1f}")
    without, with_header = _header_seconds()
    report.info("-", "plugins", "GET /limits, no X-Storm-Client (us)", f"{without * 1e6:.0f}")
    report.info("-", "plugins", "GET /limits, X-Storm-Client (us)", f"{with_header * 1e6:.0f}")
    own = _middleware_seconds()
    report.info("-", "plugins", "X-Storm-Client handling alone (us)", f"{own * 1e6:.1f}")
    print(report.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
