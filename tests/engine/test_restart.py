"""Restarts keep running work (issue 11, finding 7): `storm server`, local and Celery executors.

kill -9 of the server while 10 nodes run: five finish while it is down, five after it is back.
The restarted server adopts every attempt: each node succeeds with its one attempt, each command
ran exactly once, and those that ended during the outage are recorded with their real end time.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import pytest

from stormflow.core import Status, WorkflowStatus
from stormflow.store import Store
from tests.celery.conftest import redis_client  # noqa: F401 - a fixture (skips without Redis)
from tests.celery.helpers import REDIS_URL, Farm
from tests.client.serverproc import STORM, clean_env, free_port
from tests.engine.helpers import kill_groups, lines, pids_in, submit, task, wait_until

pytestmark = pytest.mark.slow

QUICK, SLOW = 1.5, 12.0


def start_server(
    home: Path, url: str, port: int, log: Path, celery: bool
) -> subprocess.Popen[bytes]:
    argv = [STORM, "server", "--port", str(port), "--data-dir", str(home), "--db", url]
    argv += ["--slots", "10"]
    if celery:
        argv += ["--executor", "celery", "--broker", REDIS_URL]
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=clean_env(home))

    def healthy() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as r:
                return bool(json.load(r).get("status") == "ok")
        except OSError:
            return False

    wait_until(healthy, timeout=60, interval=0.1, what=f"the server\n{log.read_text()}")
    return proc


@pytest.mark.parametrize("executor", ["local", "celery"])
def test_kill_9_of_the_server_reruns_nothing(
    store: Store, store_url: str, tmp_path: Path, executor: str, request: pytest.FixtureRequest
) -> None:
    restart_reruns_nothing(store, store_url, tmp_path, executor, request, signal.SIGKILL)


def test_sigusr1_of_the_server_leaves_its_commands_running_and_reruns_nothing(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """An upgrade: `kill -USR1` stops the server and its scheduler child but leaves the
    commands running under the supervisor; the new server adopts them."""
    url = f"sqlite:///{tmp_path}/storm.db"
    store = Store(url)
    try:
        restart_reruns_nothing(store, url, tmp_path, "local", request, signal.SIGUSR1)
    finally:
        store.close()


def restart_reruns_nothing(
    store: Store,
    store_url: str,
    tmp_path: Path,
    executor: str,
    request: pytest.FixtureRequest,
    how: signal.Signals,
) -> None:
    home, runs, pids = tmp_path / "home", tmp_path / "runs.txt", tmp_path / "pids.txt"
    home.mkdir()
    log = tmp_path / "server.out"
    celery = executor == "celery"
    queue = None
    if celery:  # a worker serving a queue of this test's own
        farm = Farm(tmp_path / "farm", uuid.uuid4().hex[:8])
        request.getfixturevalue("redis_client")
        request.addfinalizer(farm.cleanup)
        farm.worker("cpu", tag="w1", concurrency=10)
        queue = farm.queue("cpu")

    def node(name: str, seconds: float):  # type: ignore[no-untyped-def]
        trace = f'echo $$ >> {pids}; echo "$STORM_NODE start" >> {runs}'
        command = f'{trace}; sleep {seconds}; echo "$STORM_NODE end" >> {runs}'
        return task(name, command, **({"instance_type": queue} if queue else {}))

    names = [f"q{i}" for i in range(5)] + [f"s{i}" for i in range(5)]
    port = free_port()
    server = start_server(home, store_url, port, log, celery)
    try:
        wf = submit(store, [node(n, QUICK if n[0] == "q" else SLOW) for n in names])
        wait_until(lambda: len(lines(runs)) >= 10, timeout=60, what="every command to start")
        server.send_signal(how)
        assert server.wait(timeout=30) in (0, -signal.SIGKILL), log.read_text()[-3000:]
        # the quick ones end while nobody listens
        wait_until(lambda: len(lines(runs)) >= 15, timeout=30, what="the quick commands to end")
        server = start_server(home, store_url, port, log, celery)
        restarted_at = time.time()
        wait_until(
            lambda: store.status(wf) is not WorkflowStatus.RUNNING,
            timeout=60,
            what=f"the workflow to end\n{log.read_text()[-3000:]}",
        )
        assert store.status(wf) is WorkflowStatus.SUCCEEDED, log.read_text()[-3000:]
    finally:
        server.kill()
        server.wait()
        kill_groups(pids_in(pids))
    counted = Counter(lines(runs))
    assert all(counted[f"{n} start"] == 1 and counted[f"{n} end"] == 1 for n in names), counted
    for name in names:
        (row,) = store.attempts(wf, name)  # one attempt: adopted, never lost nor retried
        attempt = row.attempt
        assert (attempt.result, attempt.exit_code) == ("succeeded", 0), row
        assert store.node(wf, name).status is Status.SUCCEEDED
        assert attempt.ended_at is not None
        if name.startswith("q"):  # recorded with its real end, before the restart adopted it
            assert attempt.ended_at < restarted_at
        else:
            assert attempt.ended_at > restarted_at
    assert not [e for e in store.events(wf, limit=10_000) if e.type == "attempt-lost"]
