"""`python -m bench --watchers`: what a studio's watchers cost the farm.

A workflow of N `sleep 0.05` tasks (2,000; 400 with --quick) behind a gate node runs on a
real `storm server` (its scheduler child, local executor, 2 slots) while W watchers
(bench/watch_load.py: one process for the streams, one for the pollers) keep event streams
open (sse), poll the workflow and
its node list every 2 s with ETags (poll), or both. The gate opens once every watcher is
connected; throughput is the tasks over the span from the first task's start to the last
one's end (read from the database), as a ratio of the run without watchers. Also: GET
p50/p99 seen by the pollers, the API process's peak RSS and CPU, the scheduler child's
CPU, and events lost on the streams (must be 0).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import Report, database, log, percentile

FULL_COUNTS = (10, 50, 100, 500)
QUICK_COUNTS = (100, 500)
MODES = ("sse", "poll", "both")
SLOTS = 2
PERIOD = 2.0
TASK = ["sleep", "0.05"]
SUMMARY_ROUTE = "/api/v1/workflows/{workflow_id}"
STORM = [sys.executable, "-m", "stormflow.cli.main"]
LOAD = [sys.executable, "-m", "bench.watch_load", "--period", str(PERIOD)]


@dataclass
class Run:
    watchers: int
    mode: str
    tasks_per_s: float
    load: dict[str, Any]
    api_rss_mb: float
    api_cpu: float  # share of one core over the run
    child_cpu: float
    wall: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ticks(pid: int) -> float:
    """CPU seconds (user + system) of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _call(url: str, token: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url + "/api/v1" + path,
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST" if data is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def _from_db(url: str, workflow_id: str) -> tuple[float, int, int]:
    """(first task start -> last task end, tasks) of the workflow's `t.*` attempts, and its
    last event seq."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT min(started_at), max(ended_at), count(*) FROM attempts"
                    " WHERE workflow_id = :w AND node LIKE 't.%'"
                ),
                {"w": workflow_id},
            ).one()
            last = conn.execute(
                text("SELECT last_seq FROM workflows WHERE id = :w"), {"w": workflow_id}
            ).scalar_one()
    finally:
        engine.dispose()
    return float(row[1] - row[0]), int(row[2]), int(last)


def one_run(db_url: str, work: Path, tasks: int, watchers: int, mode: str) -> Run:
    home = work / f"server-{mode}-{watchers}-{time.monotonic_ns()}"
    port = _free_port()
    env = dict(os.environ, STORM_DB=db_url, PYTHONUNBUFFERED="1")
    server = subprocess.Popen(
        [*STORM, "server", "--port", str(port), "--data-dir", str(home), "--slots", str(SLOTS)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    loads: list[subprocess.Popen[str]] = []
    try:
        deadline = time.monotonic() + 60
        while not (home / "server.json").exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"storm server did not start: {server.stderr.read()[-2000:]}")  # type: ignore[union-attr]
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        token = (home / "token").read_text().strip()
        child = _call(url, token, "/health")["scheduler_process"]["pid"]
        gate = home / "go"
        wait = f"while [ ! -e '{gate}' ]; do sleep 0.02; done"
        doc = {
            "schema": 1,
            "name": "watchers",
            "nodes": [
                {"name": "gate", "commands": [["sh", "-c", wait]]},
                {
                    "name": "t",
                    "frames": f"1-{tasks}",
                    "chunk_size": 1,
                    "commands": [["sleep", "0.05"]],
                },
            ],
            "edges": [["gate", "t"]],
        }
        workflow_id = _call(url, token, "/workflows", doc)["id"]
        sse = watchers if mode in ("sse", "both") else 0
        polls = watchers if mode in ("poll", "both") else 0
        # streams and pollers in processes of their own: a client's busy loop would show as
        # server latency
        for flag, count in (("--sse", sse), ("--poll", polls)):
            if count:
                load = subprocess.Popen(
                    [*LOAD, url, token, workflow_id, flag, str(count)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    cwd=Path(__file__).resolve().parents[1],
                )
                loads.append(load)
                assert load.stdout is not None
                ready = load.stdout.readline().strip()
                if ready != "ready":
                    raise RuntimeError(f"the watchers did not start: {ready!r}")
        if polls:
            time.sleep(PERIOD)  # every poller has polled once
        api0, child0, began = _ticks(server.pid), _ticks(child), time.monotonic()
        gate.touch()
        while _call(url, token, f"/workflows/{workflow_id}")["status"] == "running":
            time.sleep(0.5)
        wall = time.monotonic() - began
        api_cpu = (_ticks(server.pid) - api0) / wall
        child_cpu = (_ticks(child) - child0) / wall
        rss = _peak_rss_mb(server.pid)
        span, count, last_seq = _from_db(db_url, workflow_id)
        result: dict[str, Any] = {"server": _server_latency(url, token)}
        for load in loads:
            assert load.stdin is not None and load.stdout is not None
            load.stdin.write(f"stop {last_seq}\n")
            load.stdin.flush()
        for load in loads:
            assert load.stdout is not None
            part = json.loads(load.stdout.readline())
            load.wait(timeout=60)
            if part["streams"]:
                result |= {k: v for k, v in part.items() if k not in ("latency", "codes")}
            else:
                result |= {"latency": part["latency"], "codes": part["codes"]}
        if count != tasks:
            raise RuntimeError(f"{count} of {tasks} tasks ran")
        return Run(watchers, mode, tasks / span, result, rss, api_cpu, child_cpu, wall)
    finally:
        for load in loads:
            if load.poll() is None:
                load.kill()
                load.wait()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _server_latency(url: str, token: str) -> dict[str, float]:
    """The server's own p50/p99 time to respond (bucket bounds of /metrics), per GET route."""
    request = urllib.request.Request(url + "/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        text = answer.read().decode()
    out: dict[str, float] = {}
    for kind, route in (("summary", SUMMARY_ROUTE), ("nodes", SUMMARY_ROUTE + "/nodes")):
        buckets = [
            (float(m.group(1).replace("+Inf", "inf")), float(m.group(2)))
            for m in re.finditer(
                r'storm_http_request_duration_seconds_bucket\{route="'
                + re.escape(route)
                + r'",method="GET",le="([^"]+)"\} (\S+)',
                text,
            )
        ]
        if not buckets or not buckets[-1][1]:
            continue
        total = buckets[-1][1]
        for q in (50, 99):
            out[f"{kind} p{q}"] = next(b for b, n in buckets if n >= total * q / 100)
    return out


def _describe(run: Run, base: Run | None) -> str:
    ratio = f"{run.tasks_per_s / base.tasks_per_s:.2f}x, " if base is not None else ""
    return (
        f"{ratio}{run.tasks_per_s:.1f} tasks/s; API {run.api_rss_mb:.0f} MB, "
        f"CPU API {run.api_cpu:.0%} scheduler {run.child_cpu:.0%}"
    )


def measure(
    report: Report,
    backend: str,
    work: Path,
    quick: bool,
    counts: tuple[int, ...] | None = None,
    modes: tuple[str, ...] = MODES,
    tasks: int | None = None,
) -> list[Run]:
    tasks = tasks or (400 if quick else 2000)
    counts = counts or (QUICK_COUNTS if quick else FULL_COUNTS)
    plan = [(0, "none")] + [(n, m) for n in counts for m in modes]
    if quick:  # the targets' cases only
        plan = [(0, "none"), (100, "both"), (500, "sse")]
    section = f"watchers ({tasks} x sleep 0.05, {SLOTS} slots)"
    runs: list[Run] = []
    base: Run | None = None
    for watchers, mode in plan:
        log(f"{backend}: {watchers} watchers ({mode})")
        with database(backend, work) as url:
            run = one_run(url, work, tasks, watchers, mode)
        runs.append(run)
        if watchers == 0:
            base = run
            report.info(backend, section, "0 watchers: throughput", _describe(run, None))
            continue
        _report_run(report, backend, section, run, base)
    return runs


def _report_run(report: Report, backend: str, section: str, run: Run, base: Run | None) -> None:
    name = f"{run.watchers} {run.mode}"
    load = run.load
    value = _describe(run, base)
    ratio = run.tasks_per_s / base.tasks_per_s if base is not None else float("nan")
    if run.watchers == 100 and run.mode == "both":
        report.check(backend, section, f"{name}: throughput", value, "cost < 10%", ratio > 0.9)
    else:
        report.info(backend, section, f"{name}: throughput", value)
    if run.mode in ("sse", "both"):
        lost = int(load["lost"]) + int(load["gaps"])
        text = (
            f"{lost} lost, {load['duplicated']} dup, {load['reconnects']} reconnects"
            f" ({load['received']} received)"
        )
        report.check(backend, section, f"{name}: events lost", text, "0", lost == 0)
    if run.mode == "sse" and run.watchers == 500:
        report.check(
            backend,
            section,
            f"{name}: API process peak RSS",
            f"{run.api_rss_mb:.0f} MB",
            "< 300 MB",
            run.api_rss_mb < 300,
        )
    if run.mode in ("poll", "both"):
        for kind in ("summary", "nodes"):
            lat = load["latency"][kind]
            p50, p99 = percentile(lat, 50) * 1000, percentile(lat, 99) * 1000
            server = load.get("server", {})
            bound = server.get(f"{kind} p99")
            text = f"{p50:.1f} / {p99:.1f} ms ({len(lat)} GETs)" + (
                f"; server p99 <= {bound * 1000:g} ms" if bound is not None else ""
            )
            label = f"{name}: GET {kind} p50 / p99"
            if kind == "summary" and run.watchers == 100:
                report.check(backend, section, label, text, "p99 < 50 ms", p99 < 50)
            else:
                report.info(backend, section, label, text)
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(load["codes"].items()))
        report.info(backend, section, f"{name}: GET answers", codes)
