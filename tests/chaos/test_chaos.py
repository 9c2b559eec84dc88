"""Chaos: SIGKILL a random Storm process at a random moment, restart it, lose nothing.

Per backend, a few rounds of a mixed workflow (a chain into a fan-out into a join). In each
round one process is killed with SIGKILL at a random moment and restarted: the server, a second
scheduler (PostgreSQL, where several share the store) or the supervisor that runs the local
commands (the local executor's worker; the schedulers start a new one). After each round:

- 0 nodes lost: every node succeeded and the workflow says so (it ends as its nodes say);
- 0 recorded successes run again: each succeeded attempt's command ran exactly once, and no
  node has an attempt after its success;
- 0 duplicate events: event sequence numbers are 1..n, and no attempt is started or ended twice;
- the integrity rule holds.

The figures (rounds survived, kills per process) are printed for the README. Bounded: ROUNDS
rounds per backend, seeded by STORM_CHAOS_SEED (printed) for reproduction.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import pytest

from stormflow import core
from stormflow.core import Status, WorkflowStatus
from stormflow.engine.scheduler import job_token
from stormflow.store import Store
from tests.celery.conftest import redis_client  # noqa: F401 - a fixture (skips without Redis)
from tests.celery.helpers import REDIS_URL
from tests.client.serverproc import STORM, clean_env, free_port
from tests.engine.helpers import Planned, kill_groups, lines, pids_in, submit, task, wait_until

pytestmark = pytest.mark.slow

ROUNDS = int(os.environ.get("STORM_CHAOS_ROUNDS", "5"))
CELERY_ROUNDS = int(os.environ.get("STORM_CHAOS_CELERY_ROUNDS", "2"))


class Farm:
    """The processes of one backend: a server, on PostgreSQL a second scheduler too."""

    def __init__(self, root: Path, url: str, postgres: bool, celery: str | None = None) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True)
        self.url = url
        self.port = free_port()
        self.runs = root / "runs.txt"
        self.pids = root / "pids.txt"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.celery = celery  # a queue of this test's own: the server sends to a `storm worker`
        self.kinds = ["server", "supervisor"] + (["scheduler"] if postgres else [])
        if celery:
            self.kinds = ["server", "worker"]

    def argv(self, kind: str) -> list[str]:
        common = ["--data-dir", str(self.home), "--db", self.url, "--slots", "4"]
        if kind == "worker":
            return [
                STORM, "worker", "--broker", REDIS_URL, "--queues", str(self.celery),
                "--concurrency", "4", "--data-dir", str(self.root / "worker"),
            ]  # fmt: skip
        celery = ["--executor", "celery", "--broker", REDIS_URL] if self.celery else []
        if kind == "server":
            return [STORM, "server", "--port", str(self.port), *common, *celery]
        return [STORM, "scheduler", *common, "--lease-seconds", "10"]

    def start(self, kind: str) -> None:
        with open(self.root / f"{kind}.out", "ab") as out:
            self.procs[kind] = subprocess.Popen(
                self.argv(kind), stdout=out, stderr=subprocess.STDOUT, env=clean_env(self.home)
            )
        if kind == "server":
            wait_until(self.healthy, timeout=60, interval=0.1, what=f"server\n{self.output()}")
        if kind == "worker":
            out = self.root / "worker.out"
            wait_until(lambda: " ready." in out.read_text(errors="replace"), timeout=60)

    def healthy(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/api/v1/health"
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(json.load(response).get("status") == "ok")
        except OSError:
            return False

    def supervisor_pid(self) -> int | None:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    argv = (entry / "cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if b"stormflow.engine.supervisor" in argv and os.fsencode(self.home) in argv:
                    return int(entry.name)
        return None

    def kill(self, kind: str) -> bool:
        """SIGKILL that process (reaped); the supervisor is restarted by its clients."""
        if kind == "supervisor":
            pid = self.supervisor_pid()
            if pid is None:
                return False
            os.kill(pid, signal.SIGKILL)
            return True
        proc = self.procs[kind]
        proc.kill()
        proc.wait()
        return True

    def node(self, name: str, seconds: float):  # type: ignore[no-untyped-def]
        trace = f'echo $$ >> {self.pids}; echo "$STORM_NODE $STORM_ATTEMPT" >> {self.runs}'
        extra = {"instance_type": self.celery} if self.celery else {}
        return task(name, f"{trace}; sleep {seconds}", **extra)

    def output(self) -> str:
        return "\n".join(
            f"--- {p.name}:\n{p.read_text(errors='replace')[-2000:]}"
            for p in sorted(self.root.glob("*.out"))
        )

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        kill_groups(pids_in(self.pids))
        pid = self.supervisor_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)


def mixed_workflow(farm: Farm, rng: random.Random) -> tuple[list[Planned], list[tuple[str, str]]]:
    names = ["a", "b", *(f"c{i}" for i in range(6)), "d"]
    planned = [farm.node(n, round(rng.uniform(0.2, 1.2), 2)) for n in names]
    edges = [("a", "b"), *(("b", f"c{i}") for i in range(6)), *((f"c{i}", "d") for i in range(6))]
    return planned, edges


def check_round(store: Store, wf: str, farm: Farm) -> None:
    graph = store.graph(wf)
    assert core.violations(graph, graph.nodes) == []  # the integrity rule
    counts = store.counts(wf)
    assert counts == {Status.SUCCEEDED: len(graph.nodes)}, counts  # 0 nodes lost
    assert store.status(wf) is WorkflowStatus.SUCCEEDED  # ends as its nodes say
    runs = Counter(line.split()[1] for line in lines(farm.runs))
    for name in graph.nodes:
        rows = [r.attempt for r in store.attempts(wf, name)]
        assert rows[-1].result == "succeeded", rows
        assert [r.result for r in rows].count("succeeded") == 1, rows  # no success run again
        assert runs[job_token(wf, rows[-1].token)] == 1, (name, rows)
    events = store.events(wf, limit=100_000)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # no gap, no duplicate
    lifecycle = Counter(
        (e.type, e.node, json.dumps(e.payload.get("token")))
        for e in events
        if e.type.startswith("attempt-")
    )
    assert all(n == 1 for n in lifecycle.values()), lifecycle  # no attempt started/ended twice


@pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_random_sigkills_lose_nothing_and_rerun_no_success(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    backend = "postgres" if store_url.startswith("postgresql") else "sqlite"
    rounds(store, Farm(tmp_path, store_url, postgres=backend == "postgres"), backend, ROUNDS)


@pytest.mark.parametrize(
    "store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_random_sigkills_of_server_and_celery_worker(
    store: Store, store_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The Celery executor: the server or the `storm worker` is killed (a worker's attempts are
    lost when its heartbeat lapses, and retried; the restarted worker reaps their commands)."""
    request.getfixturevalue("redis_client")  # skips without Redis (fails under CI=true)
    queue = f"chaos-{uuid.uuid4().hex[:8]}"
    farm = Farm(tmp_path, store_url, postgres=True, celery=queue)
    rounds(store, farm, "postgres + celery", CELERY_ROUNDS)


def rounds(store: Store, farm: Farm, backend: str, count: int) -> None:
    seed = int(os.environ.get("STORM_CHAOS_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    kills: Counter[str] = Counter()
    survived = 0
    try:
        for kind in farm.kinds:
            if kind != "supervisor":  # started by the schedulers themselves
                farm.start(kind)
        for round_ in range(count):
            nodes, edges = mixed_workflow(farm, rng)
            wf = submit(store, nodes, edges, name=f"chaos-{round_}")
            time.sleep(rng.uniform(0.3, 2.5))
            victim = rng.choice(farm.kinds)
            if farm.kill(victim):
                kills[victim] += 1
            time.sleep(rng.uniform(0.0, 1.0))
            if victim != "supervisor":
                farm.start(victim)
            wait_until(
                lambda wf=wf: store.status(wf) is not WorkflowStatus.RUNNING,  # type: ignore[misc]
                timeout=90,
                what=f"round {round_} (seed {seed}, killed {victim})\n{farm.output()}",
            )
            try:
                check_round(store, wf, farm)
            except AssertionError as exc:
                where = f"round {round_} (seed {seed}, killed {victim})"
                raise AssertionError(f"{where}: {exc}") from exc
            survived += 1
    finally:
        farm.stop()
        print(
            f"\nchaos {backend}: {survived}/{count} rounds survived (seed {seed}); "
            f"SIGKILLs: {dict(kills)}"
        )
