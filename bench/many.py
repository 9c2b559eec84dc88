"""4. Many workflows (`python -m bench --many-workflows`): a store that holds a studio's year.

Per backend and store size (1,000 and 10,000 stored workflows; --quick: 200 and 1,000), a
fresh database is filled by bulk insert (`populate`: a third held at their root, a third
failed with an open node behind the failure, a third finished; 8 nodes each, with their
attempts and submit event and the summary columns), then:

- idle CPU: a Scheduler over the whole store (no workflow filter, as `storm server` runs)
  turning for a few seconds with nothing to do; CPU seconds of this process / wall seconds.
- fan-out: 1 -> 500 -> 1 trivial tasks submitted into that store and run by a Scheduler
  over the whole store; tasks/s against the same run on an empty store (ratio).
- list: `storm server --no-scheduler` on the store, 20 client threads each reading
  `GET /api/v1/workflows` (limit 50) over and over, per filter: none, `status=failed`,
  `status=holding&name=h*`; p50 and p99.
- a large submit: a 2,000-node fan-out submitted while a Scheduler serves the store;
  seconds until its root's attempt has started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

from .common import Report, database, log, median, ms, percentile, sec
from .dags import Dag, fan_out, planned, true_command

TARGET_RATIO = 0.90
TARGET_IDLE_CPU = 0.02
TARGET_LIST_P99 = 0.100
TARGET_FIRST_START = 2.0
CLIENTS = 20
SECTION = "4 many workflows"


def sizes(quick: bool) -> list[int]:
    return [200, 1000] if quick else [1000, 10000]


# -- populating a store ---------------------------------------------------------------------------

COMMANDS = '{"commands": [["true"]]}'
OWNER = "farm01:4242:a1b2c3"
_MIDS = [f"b{i}" for i in range(6)]
_NAMES = ["a", *_MIDS, "c"]
_EDGES = [("a", m) for m in _MIDS] + [(m, "c") for m in _MIDS]
_STATES: dict[str, tuple[str, dict[str, str]]] = {
    # kind -> (derived status, node -> status)
    "held": ("holding", {"a": "holding"} | {n: "open" for n in [*_MIDS, "c"]}),
    "failed": (
        "failed",
        {"a": "succeeded", "b0": "failed", "c": "open"} | {m: "succeeded" for m in _MIDS[1:]},
    ),
    "finished": ("succeeded", dict.fromkeys(_NAMES, "succeeded")),
}


def populate(url: str, count: int) -> None:
    """`count` workflows in mixed states, written by bulk insert in one transaction each
    table (COPY on PostgreSQL), with the summary columns the transactions would keep."""
    from stormflow.core import Status
    from stormflow.store import Store
    from stormflow.store.bulk import insert_rows
    from stormflow.store.schema import attempts, edges, events, nodes, workflows

    store = Store(url)
    kinds = list(_STATES)
    base = time.time() - 86400 * 30
    wf_rows, node_rows, edge_rows, attempt_rows, event_rows = [], [], [], [], []
    for i in range(count):
        kind = kinds[i % 3]
        wf = f"p{i:07d}"[:8] if count < 10**7 else uuid.uuid4().hex[:8]
        derived, statuses = _STATES[kind]
        counts = {s.value: 0 for s in Status}
        for name in _NAMES:
            counts[statuses[name]] += 1
        at = base + i
        wf_rows.append(
            (wf, f"{kind[0]}{i:05d}", "{}", at, False, None, "bench", 1, derived, *counts.values())
        )
        for name in _NAMES:
            status = statuses[name]
            ran = status in ("succeeded", "failed")
            node_rows.append((wf, name, "task", status, "open", COMMANDS, "{}", 0, 1 if ran else 0))
            if ran:
                result = status
                exit_code = 0 if status == "succeeded" else 1
                attempt_rows.append(
                    (wf, name, 1, f"{name}#1", at, at, at, at + 1, result, exit_code, OWNER, at)
                )
        edge_rows += [(wf, u, d) for u, d in _EDGES]
        event_rows.append((wf, 1, "submit", "bench", at, '{"name": "bench"}'))
    wf_columns = (
        "id",
        "name",
        "metadata",
        "created_at",
        "archived",
        "expires_at",
        "owner",
        "last_seq",
        "status",
        *(f"count_{s.value}" for s in Status),
    )
    with store.write() as conn:
        insert_rows(conn, workflows, wf_columns, iter(wf_rows))
        node_columns = (
            "workflow_id",
            "name",
            "kind",
            "status",
            "submitted",
            "base",
            "patch",
            "snapshot_count",
            "attempt_seq",
        )
        insert_rows(conn, nodes, node_columns, iter(node_rows))
        insert_rows(conn, edges, ("workflow_id", "upstream", "downstream"), iter(edge_rows))
        attempt_columns = (
            "workflow_id",
            "node",
            "number",
            "token",
            "created_at",
            "not_before",
            "started_at",
            "ended_at",
            "result",
            "exit_code",
            "lease_owner",  # the scheduler that ran it (a claim leases; nothing clears it)
            "lease_expires",
        )
        insert_rows(conn, attempts, attempt_columns, iter(attempt_rows))
        event_columns = ("workflow_id", "seq", "type", "actor", "at", "payload")
        insert_rows(conn, events, event_columns, iter(event_rows))
    store.refresh_statistics()
    store.close()


# -- measurements ---------------------------------------------------------------------------------


def run_fan_out(url: str, data_dir: Path, dag: Dag) -> float:
    """Seconds to run the DAG with a Scheduler over the whole store (no workflow filter)."""
    from stormflow.core import Status, WorkflowStatus
    from stormflow.engine.scheduler import Scheduler, Settings
    from stormflow.store import Store

    store = Store(url)
    try:
        wf = store.submit(
            planned(dag, true_command),
            dag.edges,
            name="fan",
            metadata={},
            actor="b",
            at=time.time(),
        )
        scheduler = Scheduler(store, Settings(data_dir=data_dir), slots=os.cpu_count() or 1)
        began = time.perf_counter()
        try:
            scheduler.run_until(lambda: store.status(wf) is not WorkflowStatus.RUNNING)
            seconds = time.perf_counter() - began
        finally:
            scheduler.close(grace=1.0)
        if store.counts(wf) != {Status.SUCCEEDED: len(dag.names)}:
            raise RuntimeError(f"the fan-out did not succeed: {store.counts(wf)}")
        return seconds
    finally:
        store.close()


def idle_cpu(url: str, data_dir: Path, seconds: float) -> float:
    """CPU seconds per wall second of this process while a Scheduler serves an idle store."""
    from stormflow.engine.scheduler import Scheduler, Settings
    from stormflow.store import Store

    store = Store(url)
    scheduler = Scheduler(store, Settings(data_dir=data_dir), slots=2)
    thread = threading.Thread(target=scheduler.serve_forever, daemon=True)
    thread.start()
    time.sleep(1.0)  # past the first rescans
    cpu0, wall0 = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    scheduler.stop()
    thread.join(10)
    scheduler.close(grace=1.0)
    store.close()
    return cpu / wall


def first_start(url: str, data_dir: Path, width: int = 1998) -> float:
    """Seconds from a 2,000-node submit to its root's attempt started, a scheduler serving."""
    from stormflow.engine.scheduler import Scheduler, Settings
    from stormflow.store import Store

    store = Store(url)
    scheduler = Scheduler(store, Settings(data_dir=data_dir), slots=2)
    thread = threading.Thread(target=scheduler.serve_forever, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)
        dag = fan_out(width)
        began = time.perf_counter()
        wf = store.submit(
            planned(dag, true_command),
            dag.edges,
            name="big",
            metadata={},
            actor="b",
            at=time.time(),
        )
        while time.perf_counter() - began < 60:
            runs = store.attempts(wf, "root")
            if runs and runs[0].attempt.started_at is not None:
                return time.perf_counter() - began
            time.sleep(0.005)
        return float("inf")
    finally:
        scheduler.stop()
        thread.join(10)
        scheduler.close(grace=1.0)
        store.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def list_latencies(url: str, data_dir: Path, requests: int) -> dict[str, list[float]]:
    """Per filter, the latencies of `CLIENTS` threads reading the list `requests` times each,
    from a `storm server --no-scheduler` process on the store."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stormflow.cli.main",
            "server",
            "--no-scheduler",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--db",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        info = data_dir / "server.json"
        deadline = time.monotonic() + 60
        while not info.exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("storm server did not start")
            time.sleep(0.05)
        base = json.loads(info.read_text())["url"]
        token = (data_dir / "token").read_text().strip()
        filters = {
            "no filter": "",
            "status=failed": "&status=failed",
            "status=holding&name=h*": "&status=holding&name=h%2A",
        }
        found: dict[str, list[float]] = {}
        for label, query in filters.items():
            target = f"{base}/api/v1/workflows?limit=50{query}"
            times: list[float] = []
            lock = threading.Lock()

            def client(
                target: str = target, times: list[float] = times, lock: threading.Lock = lock
            ) -> None:
                mine = []
                for _ in range(requests):
                    req = urllib.request.Request(
                        target, headers={"Authorization": f"Bearer {token}"}
                    )
                    began = time.perf_counter()
                    with urllib.request.urlopen(req, timeout=60) as answer:
                        body = json.load(answer)
                    mine.append(time.perf_counter() - began)
                    assert len(body["items"]) == 50, body
                with lock:
                    times.extend(mine)

            client()  # warm, and alone: what one request costs the server
            found[f"{label}, 1 client"] = list(times)
            times.clear()
            threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            found[f"{label}, {CLIENTS} clients"] = times
        return found
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(report: Report, backend: str, work: Path, quick: bool, repeats: int = 3) -> None:
    """Per store size: the fan-out runs `repeats` times on the stored store, each right after
    a run on an empty one (a fresh database): the ratio compares medians of the same minutes
    (this machine's speed drifts by 10-20% within a minute, more while others load it)."""
    width = 100 if quick else 500
    dag = fan_out(width)
    n = len(dag.names)
    for count in sizes(quick):
        with database(backend, work) as url:
            began = time.perf_counter()
            populate(url, count)
            filled = time.perf_counter() - began
            log(f"{backend} many: {count} workflows stored in {filled:.1f} s")
            label = f"{count:,} stored"
            report.info(backend, SECTION, f"{label}: populate (bulk insert)", sec(filled))
            cpu = idle_cpu(url, work / f"many-{backend}-{count}-idle", 3.0 if quick else 8.0)
            report.check(
                backend,
                SECTION,
                f"{label}: idle scheduler CPU (this process)",
                f"{cpu:.1%}",
                f"< {TARGET_IDLE_CPU:.0%}",
                cpu < TARGET_IDLE_CPU,
            )
            empty_times, stored_times = [], []
            for i in range(1 if quick else repeats):
                with database(backend, work) as empty_url:
                    data = work / f"many-{backend}-{count}-empty-{i}"
                    empty_times.append(run_fan_out(empty_url, data, dag))
                data = work / f"many-{backend}-{count}-fan-{i}"
                stored_times.append(run_fan_out(url, data, dag))
            empty_rate, rate = n / median(empty_times), n / median(stored_times)
            ratio = rate / empty_rate
            log(f"{backend} many {count}: fan-out {rate:.0f} tasks/s ({ratio:.0%} of empty)")
            report.info(backend, SECTION, f"{label}: {dag.label}", f"{rate:.0f} tasks/s")
            report.info(
                backend, SECTION, f"{label}: {dag.label}, empty store", f"{empty_rate:.0f} tasks/s"
            )
            report.check(
                backend,
                SECTION,
                f"{label}: fan-out / empty store",
                f"{ratio:.0%}",
                f">= {TARGET_RATIO:.0%}",
                ratio >= TARGET_RATIO,
            )
            lists = list_latencies(url, work / f"many-{backend}-{count}-api", 5 if quick else 15)
            for name, times in lists.items():
                p50, p99 = median(times), percentile(times, 99)
                log(f"{backend} many {count}: list {name} p50 {ms(p50)} p99 {ms(p99)}")
                what = f"{label}: list {name}"
                report.info(backend, SECTION, f"{what}, p50", ms(p50))
                if name.endswith(", 1 client"):
                    report.info(backend, SECTION, f"{what}, p99", ms(p99))
                    continue
                report.check(
                    backend,
                    SECTION,
                    f"{what}, p99",
                    ms(p99),
                    f"< {TARGET_LIST_P99 * 1000:.0f} ms",
                    p99 < TARGET_LIST_P99,
                )
            waited = first_start(url, work / f"many-{backend}-{count}-big")
            log(f"{backend} many {count}: 2,000-node submit -> first start {waited:.2f} s")
            report.check(
                backend,
                SECTION,
                f"{label}: 2,000-node submit -> first start",
                sec(waited),
                f"< {TARGET_FIRST_START:.0f} s",
                waited < TARGET_FIRST_START,
            )
