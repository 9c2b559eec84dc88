"""4. API latency while a 200,000-node workflow is submitted and started (issue 11, finding 4).

A real `storm server` (embedded scheduler, local executor) in a subprocess. A prober thread
sends a steady mix of requests — health, the workflow list, a small workflow's detail and
node list, a hold/unhold on it — while the main thread POSTs a render of 199,999 frames in
chunks of 1 (sim -> render, 200,000 nodes) and then while the scheduler starts it. Every
request's time is recorded; the figures are p50/p99/max per phase and how many answers
were not 2xx (a busy store answers 503 with Retry-After; never 500).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from .common import Report, database, log, ms, percentile, sec

TARGET_P99 = 1.0
START_WINDOW = 15.0  # seconds probed after the submit answered: the scheduler starts it
PROBE_TIMEOUT = 120.0

SMALL: dict[str, Any] = {
    "schema": 1,
    "name": "small",
    "nodes": [
        {"name": "a", "commands": [["sleep", "3600"]]},
        {"name": "b", "commands": [["true"]]},
    ],
    "edges": [["a", "b"]],
}


def big_document(frames: int) -> dict[str, Any]:
    return {
        "schema": 1,
        "name": "big_render",
        "nodes": [
            {"name": "sim", "commands": [["true"]]},
            {"name": "render", "frames": f"1-{frames}", "commands": [["true", "{start}"]]},
        ],
        "edges": [["sim", "render"]],
    }


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/api/v1{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        began = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT) as answer:
                status, text = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read()
        except (urllib.error.URLError, TimeoutError) as exc:
            return 0, str(exc), time.perf_counter() - began
        elapsed = time.perf_counter() - began
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = text
        return status, payload, elapsed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(home: Path, url: str) -> tuple[subprocess.Popen[bytes], Api, Path]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORM_")}
    env["STORM_HOME"] = str(home)
    logfile = home.parent / f"server-{port}.log"
    out = open(logfile, "wb")  # noqa: SIM115 - lives as long as the server
    storm = str(Path(sys.executable).parent / "storm")
    proc = subprocess.Popen(
        [
            storm,
            "server",
            "--port",
            str(port),
            "--data-dir",
            str(home),
            "--db",
            url,
            "--slots",
            "2",
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    token_file = home / "token"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"storm server exited: {logfile.read_text()[-2000:]}")
        if token_file.exists():
            api = Api(f"http://127.0.0.1:{port}", token_file.read_text().strip())
            if api.call("GET", "/health")[0] == 200:
                return proc, api, logfile
        if time.monotonic() > deadline:
            raise RuntimeError("storm server did not start")
        time.sleep(0.1)


class Prober:
    """Requests one after the other (a user clicking fast), each tagged with the phase."""

    def __init__(self, api: Api, small: str) -> None:
        self.api = api
        self.small = small
        self.phase = "before"
        self.samples: list[tuple[str, str, int, float]] = []  # (phase, request, status, s)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _requests(self) -> list[tuple[str, str, str, Any]]:
        wf = self.small
        return [
            ("health", "GET", "/health", None),
            ("list workflows", "GET", "/workflows", None),
            ("small workflow", "GET", f"/workflows/{wf}", None),
            ("small nodes", "GET", f"/workflows/{wf}/nodes", None),
            ("hold", "POST", f"/workflows/{wf}/actions",
             {"action": "hold", "selection": {"names": ["b"]}}),
            ("unhold", "POST", f"/workflows/{wf}/actions",
             {"action": "unhold", "selection": {"names": ["b"]}}),
        ]  # fmt: skip

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, method, path, body in self._requests():
                phase = self.phase
                status, _payload, elapsed = self.api.call(method, path, body)
                self.samples.append((phase, name, status, elapsed))
                time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=PROBE_TIMEOUT + 5)


def measure(report: Report, backend: str, work: Path, quick: bool) -> None:
    frames = 5_000 if quick else 199_999  # + sim: 200,000 nodes, the default limit
    section = f"4 API during a {frames + 1}-node submit"
    home = work / f"submit-{backend}"
    home.mkdir()
    with database(backend, work) as url:
        proc, api, logfile = start_server(home, url)
        try:
            status, small, _ = api.call("POST", "/workflows", SMALL)
            assert status == 201, small
            prober = Prober(api, small["id"])
            prober.thread.start()
            time.sleep(2.0)
            log(f"{backend}: submitting {frames + 1} nodes while probing the API")
            prober.phase = "submit"
            status, big, submit_s = api.call("POST", "/workflows", big_document(frames))
            if status != 201:
                raise RuntimeError(f"the big submit answered {status}: {str(big)[:300]}")
            prober.phase = "start"
            log(f"{backend}: submitted in {submit_s:.1f} s; probing {START_WINDOW:g} s more")
            time.sleep(START_WINDOW)
            prober.stop()
            _, detail, _ = api.call("GET", f"/workflows/{big['id']}")
            started = (detail or {}).get("counts", {})
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    info = lambda name, value: report.info(backend, section, name, value)  # noqa: E731
    info("submit request (validate, expand, store)", sec(submit_s))
    info(
        f"big workflow {START_WINDOW:g} s after the submit",
        ", ".join(f"{k} {v}" for k, v in sorted(started.items()) if v),
    )
    for phase in ("submit", "start"):
        times = [s for p, _, _, s in prober.samples if p == phase]
        codes = Counter(c for p, _, c, _ in prober.samples if p == phase)
        if not times:
            info(f"{phase}: requests", "0 (the phase was too short to probe)")
            continue
        p99 = percentile(times, 99)
        report.check(
            backend, section, f"during {phase}: API p99 ({len(times)} requests)", ms(p99),
            "< 1 s", p99 < TARGET_P99,
        )  # fmt: skip
        info(f"during {phase}: p50 / max", f"{ms(percentile(times, 50))} / {ms(max(times))}")
        bad = {str(k): v for k, v in sorted(codes.items()) if not 200 <= k < 300}
        report.check(
            backend, section, f"during {phase}: answers not 2xx", json.dumps(bad) if bad else "0",
            "no 500", codes.get(500, 0) == 0 and codes.get(0, 0) == 0,
        )  # fmt: skip
        slowest = sorted(((s, n) for p, n, _, s in prober.samples if p == phase), reverse=True)[:3]
        info(f"during {phase}: slowest", ", ".join(f"{n} {ms(s)}" for s, n in slowest))
    errors = [line for line in logfile.read_text(errors="replace").splitlines() if "ERROR" in line]
    if errors:
        report.note(f"{backend}: server log has {len(errors)} ERROR lines, first: {errors[0]}")
