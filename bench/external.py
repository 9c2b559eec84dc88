"""External jobs: webhook-to-downstream-start latency, and what 10,000 waiting jobs cost.

`python -m bench --external [--quick] [--backend sqlite|postgres|both]`

1. Latency: a real `storm server` (its scheduler a child process), a provider whose jobs
   never finish by themselves (polling every hour), workflows `render (external) -> after
   (task)`. For each, once the job waits, a signed webhook says it succeeded; the figure is
   the time from sending the webhook to the downstream task's attempt being started (its
   `attempt-started` event), one at a time. Target p50 < 20 ms.
2. Memory: `storm scheduler` as a process; RSS with the provider configured and nothing to
   do, then with 10,000 external jobs waiting (1,000 with --quick), and the scheduler's CPU
   over 10 s while they wait (no busy loop: only the due-wait query every half second).

The provider is a small HTTP stub in this process (submit -> an id; status -> running).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from stormflow.signing import HEADER, sign

from .common import Report, database, log, median, ms, percentile

SECRET = "bench-secret"
TARGET_P50 = 0.020
TARGET_MB = 5.0  # "a few MB" (the issue); the waits themselves live in the database


class Stub(BaseHTTPRequestHandler):
    counter = 0
    lock = threading.Lock()

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, data: object) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with Stub.lock:
            Stub.counter += 1
            job = f"j{Stub.counter}"
        self._answer({"id": job})

    def do_GET(self) -> None:
        self._answer({"id": self.path.rsplit("/", 1)[-1], "state": "running"})


def stub() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    server.request_queue_size = 128
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def provider(url: str, name: str = "bench") -> dict[str, Any]:
    return {
        "name": name,
        "kind": "http",
        "base_url": url,
        "submit": {"url": "/jobs"},
        "status": {"url": "/jobs/${id}"},
        "webhook": {"secret_env": "BENCH_SECRET"},
        "poll": [3600],
        "rate": 1000,
    }


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORM_")}
    env["BENCH_SECRET"] = SECRET
    return env


def _wait(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.005)


def measure_latency(report: Report, backend: str, work: Path, quick: bool) -> None:
    import httpx

    from stormflow.store import Store

    count = 20 if quick else 100
    _, url = stub()
    with database(backend, work) as db:
        home = work / f"latency-{backend}"
        port = _free_port()
        with open(work / f"server-{backend}.err", "wb") as errors:
            proc = subprocess.Popen(
                [sys.executable, "-m", "stormflow.cli.main", "server", "--port", str(port),
                 "--data-dir", str(home), "--db", db, "--slots", "4"],
                stdout=subprocess.DEVNULL, stderr=errors, env=_env(),
            )  # fmt: skip
        try:
            _wait((home / "token").exists, 60, "the server's token")
            token = (home / "token").read_text().strip()
            base = f"http://127.0.0.1:{port}"
            http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
            _wait(lambda: _up(http), 60, "the server")
            http.put("/api/v1/providers/bench", json=provider(url)).raise_for_status()
            store = Store(db)
            latencies = []
            for i in range(count):
                doc = {
                    "schema": 1,
                    "name": f"lat{i}",
                    "nodes": [
                        {"name": "render", "kind": "external", "provider": "bench", "request": {}},
                        {"name": "after", "commands": [["true"]]},
                    ],
                    "edges": [["render", "after"]],
                }
                wf = http.post("/api/v1/workflows", json=doc).json()["id"]
                wait = _wait(
                    lambda wf=wf: next((w for w in store.waits_of(wf) if w.external_id), None),
                    30,
                    "the submit",
                )
                body = json.dumps({"id": wait.external_id, "state": "succeeded"}).encode()
                signature = sign(SECRET, body)
                sent = time.time()
                answer = http.post("/api/v1/hooks/bench", content=body, headers={HEADER: signature})
                assert answer.json()["outcome"] == "applied", answer.text
                started = _wait(lambda wf=wf: _started(store, wf), 30, "the downstream start")
                latencies.append(max(0.0, started - sent))
            store.close()
            http.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    p50 = median(latencies)
    report.check(
        backend, "external", f"webhook -> downstream start p50 ({count} jobs)", ms(p50),
        f"< {TARGET_P50 * 1000:.0f} ms", p50 < TARGET_P50,
    )  # fmt: skip
    report.info(
        backend, "external", "webhook -> downstream start p95", ms(percentile(latencies, 95))
    )


def _started(store: Any, workflow_id: str) -> float | None:
    for event in store.events(workflow_id):
        if event.type == "attempt-started" and event.node == "after":
            return float(event.at)
    return None


def _up(http: Any) -> bool:
    try:
        return bool(http.get("/api/v1/health").json().get("scheduler"))
    except Exception:
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_memory(report: Report, backend: str, work: Path, quick: bool) -> None:
    from stormflow.engine.providers import parse_config
    from stormflow.store import Store
    from stormflow.store.schema import waits

    count = 1000 if quick else 10_000
    _, url = stub()
    with database(backend, work) as db:
        store = Store(db)
        config = parse_config(provider(url))
        store.put_provider("bench", "http", config.public(), at=time.time(), max_concurrent=None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "stormflow.cli.main", "scheduler", "--db", db,
             "--data-dir", str(work / f"memory-{backend}"), "--slots", "8"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(),
        )  # fmt: skip
        try:
            from stormflow.spec import expand

            def submit(name: str, jobs: int) -> None:
                doc = {
                    "schema": 1,
                    "name": name,
                    "nodes": [
                        {"name": f"job{i}", "kind": "external", "provider": "bench", "request": {}}
                        for i in range(jobs)
                    ],
                    "edges": [],
                }
                plan = expand(doc)
                at = time.time()
                store.submit(plan.nodes, plan.edges, name=name, metadata={}, actor="bench", at=at)

            def waiting(jobs: int) -> bool:
                query = waits.select().with_only_columns(waits.c.token)
                with store.read() as conn:
                    found = conn.execute(query.where(waits.c.state == "waiting")).all()
                return len(found) >= jobs

            # warm: a few jobs waiting already (threads, connections, imports in place)
            submit("warm", 10)
            _wait(lambda: waiting(10), 120, "10 jobs waiting")
            time.sleep(2.0)
            idle = _rss_mb(proc.pid)
            began = time.monotonic()
            submit("waiting", count)
            _wait(lambda: waiting(count + 10), 900, f"{count} jobs waiting")
            took = time.monotonic() - began
            time.sleep(2.0)
            loaded = _rss_mb(proc.pid)
            cpu0, t0 = _cpu_seconds(proc.pid), time.monotonic()
            time.sleep(10.0)
            cpu = (_cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)
            settled = _rss_mb(proc.pid)  # 10 s later: after the scheduler's last trim
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            store.close()
    grown = loaded - idle
    report.check(
        backend, "external", f"scheduler RSS growth, {count:,} jobs waiting", f"{grown:.1f} MB",
        f"< {TARGET_MB:.0f} MB", grown < TARGET_MB,
    )  # fmt: skip
    report.info(
        backend, "external", "scheduler RSS, 10 / all waiting", f"{idle:.0f} / {loaded:.0f} MB"
    )
    report.info(backend, "external", "scheduler RSS growth, 10 s later", f"{settled - idle:.1f} MB")
    report.info(backend, "external", f"scheduler CPU while {count:,} wait", f"{cpu * 100:.1f} %")
    report.info(backend, "external", f"{count:,} jobs claimed and submitted in", f"{took:.1f} s")


def measure(report: Report, backend: str, work: Path, quick: bool) -> None:
    log(f"{backend}: external jobs")
    measure_latency(report, backend, work, quick)
    measure_memory(report, backend, work, quick)
