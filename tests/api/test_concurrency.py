"""4x the pool size of concurrent conflicting actions on one running workflow, from real
threads against a real HTTP server with its embedded scheduler (issue 11, finding 6: 16 such
requests hung PostgreSQL for good and killed the scheduler on both backends).

Every request must answer (a generous 30 s deadline makes a hang a failure; the maximum is
printed), none with 500; afterwards the integrity rule holds, event sequence numbers have
no gap or duplicate, and the scheduler is alive and still runs workflows.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from stormflow import core
from stormflow.api.app import create_app
from stormflow.api.embedded import EmbeddedScheduler
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.store import Store
from tests.api.helpers import API, TOKEN, live_server
from tests.engine.helpers import wait_until

DEADLINE = 30.0  # per request: far above the 5 s they must answer in; a hang fails the test
ROUNDS = 3  # requests per thread

#: 40 frames of render behind a prep, then a comp per 10 frames: a running graph to fight over
DOC: dict[str, Any] = {
    "schema": 1,
    "name": "contended",
    "nodes": [
        {"name": "prep", "commands": [["sleep", "0.2"]]},
        {"name": "render", "frames": "1-40", "commands": [["sleep", "0.3"]], "retries": 1},
        {"name": "comp", "frames": "1-40", "chunk_size": 10, "commands": [["true"]]},
    ],
    "edges": [["prep", "render"], ["render", "comp"]],
}

ACTIONS: list[dict[str, Any]] = [
    {"action": "hold", "selection": {"glob": "render.*"}},
    {"action": "unhold", "selection": {"status": ["holding"]}},
    {"action": "retry", "selection": {"glob": "render.1*"}},
    {"action": "skip", "selection": {"names": ["render.7", "render.8"]}},
    {"action": "update", "selection": {"glob": "render.2*"}, "patch": {"retries": 2}},
    {"action": "update", "selection": {"glob": "render.3*"}, "patch": {"commands": [["true"]]}},
    {"action": "cancel", "selection": {"status": ["running"]}},
    {"action": "retry", "selection": {"status": ["canceled", "failed", "succeeded"]}},
    {"action": "unhold", "selection": {"glob": "*"}},
]


def call(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any, float]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    began = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE) as answer:
            status, text, headers = answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as exc:
        status, text, headers = exc.code, exc.read(), exc.headers
    elapsed = time.monotonic() - began
    payload = json.loads(text) if text else None
    if status == 503:
        assert headers.get("Retry-After"), "a busy answer says when to retry"
        assert payload["error"]["code"] == "busy"
    return status, payload, elapsed


def test_concurrent_conflicting_actions_all_answer_and_leave_a_sound_workflow(
    store: Store, data_dir: Path
) -> None:
    pool = store.engine.pool
    pool_size = pool.size() + max(getattr(pool, "_max_overflow", 0), 0)
    threads_count = 4 * max(pool_size, 4)
    embedded = EmbeddedScheduler(Scheduler(store, Settings(data_dir=data_dir), slots=4))
    embedded.start()
    app = create_app(store, data_dir=data_dir, token=TOKEN, scheduler=embedded)
    try:
        with live_server(app) as base:
            status, submitted, _ = call(f"{base}{API}/workflows", "POST", DOC)
            assert status == 201, submitted
            wf = submitted["id"]
            wait_until(
                lambda: store.counts(wf).get(core.Status.RUNNING, 0) > 0,
                timeout=30,
                what="the workflow to run",
            )
            results: list[tuple[int, float]] = []
            failures: list[BaseException] = []
            lock = threading.Lock()
            start = threading.Barrier(threads_count)

            def fire(seed: int) -> None:
                rng = random.Random(seed)
                try:
                    start.wait(timeout=30)
                    for _ in range(ROUNDS):
                        body = rng.choice(ACTIONS)
                        url = f"{base}{API}/workflows/{wf}/actions"
                        status, payload, elapsed = call(url, "POST", body)
                        with lock:
                            results.append((status, elapsed))
                        assert status in (200, 409, 422, 503), (status, payload)
                except BaseException as exc:  # surfaced below
                    with lock:
                        failures.append(exc)

            threads = [threading.Thread(target=fire, args=(i,)) for i in range(threads_count)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=DEADLINE * ROUNDS + 30)
            assert not any(t.is_alive() for t in threads), "a request hung"
            assert not failures, failures[:3]
            statuses = Counter(status for status, _ in results)
            slowest = max(elapsed for _, elapsed in results)
            print(
                f"\n{store.dialect}: {len(results)} actions from {threads_count} threads "
                f"(pool {pool_size}): {dict(statuses)}, slowest {slowest:.2f} s"
            )
            assert len(results) == threads_count * ROUNDS
            assert statuses[500] == 0
            assert slowest < DEADLINE

            # sound afterwards: integrity, gap-free events, a live scheduler that still runs
            graph = store.graph(wf)
            assert core.violations(graph, graph.nodes) == []
            seqs = [e.seq for e in store.events(wf, limit=1_000_000)]
            assert seqs == list(range(1, len(seqs) + 1))
            status, health, _ = call(f"{base}{API}/health")
            assert health["scheduler"] is True, health
            call(
                f"{base}{API}/workflows/{wf}/actions",
                "POST",
                {"action": "unhold", "selection": {"status": ["holding"]}},
            )
            status, other, _ = call(f"{base}{API}/workflows", "POST", {**DOC, "name": "after"})
            assert status == 201
            wait_until(
                lambda: store.status(other["id"]) is not core.WorkflowStatus.RUNNING,
                timeout=60,
                what="a new workflow to finish after the storm",
            )
            assert store.status(other["id"]) is core.WorkflowStatus.SUCCEEDED
    finally:
        embedded.stop(grace=1.0)
