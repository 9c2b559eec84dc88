"""`python -m bench --celery`: Storm over Celery vs Storm local vs plain Celery, in one run.

Same tasks for all three: `true` processes. Measured:
- throughput: a fan-out of N independent tasks, tasks/s from the first dispatch to the last
  result recorded (Storm) or received (plain Celery);
- dispatch latency over a chain: upstream finished (Storm: its success recorded; plain Celery:
  its completion received by the client) -> the downstream process starting (the process writes
  its own start time).

Plain Celery is the floor: a client sending one task per process, a worker (same pool,
concurrency, Redis broker) running `true` and pushing its completion to a Redis list. Storm adds
the database transactions (claim, result, next runs), the log shipping and the heartbeats.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from celery import Celery
from stormflow.core import Status, WorkflowStatus
from stormflow.engine.executors import make_scheduler
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.spec import PlannedNode
from stormflow.store import Store

from .common import Report, Unavailable, database, log, ms, percentile, pg_role
from .dags import Dag, chain, fan_out
from .latency import read_starts

REDIS = "redis://127.0.0.1:6379/0"
CONCURRENCY = 4  # worker threads; each task only waits for its process
QUEUE = f"bench-{uuid.uuid4().hex[:6]}"  # fresh queues: nothing left over from other runs

# -- plain Celery: the same `true` tasks without Storm -------------------------------------------

plain_app = Celery("stormbench", broker=REDIS, set_as_current=False)
plain_app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    worker_hijack_root_logger=False,
)


@plain_app.task(name="stormbench.true")  # type: ignore[misc]
def plain_true(done_key: str, starts_file: str | None, name: str) -> None:
    if starts_file:
        line = f'exec date "+{name} %s.%N" >> {shlex.quote(starts_file)}'
        subprocess.run(["/bin/sh", "-c", line], check=True)
    else:
        subprocess.run(["true"], check=True)
    client = redis.Redis.from_url(REDIS)
    client.rpush(done_key, json.dumps([name, time.time()]))
    client.expire(done_key, 3600)


@contextmanager
def process(argv: list[str], out: Path, ready: str) -> Iterator[None]:
    with open(out, "ab") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, cwd=Path.cwd())
    try:
        deadline = time.monotonic() + 30
        while ready not in out.read_text(errors="replace"):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise Unavailable(f"{argv[:3]} did not start: {out.read_text()[-500:]}")
            time.sleep(0.05)
        yield
    finally:
        proc.kill()
        proc.wait(timeout=10)


def plain_worker(work: Path, queue: str) -> Any:
    argv = [sys.executable, "-m", "celery", "-A", "bench.celery_bench:plain_app", "worker"]
    argv += ["-Q", queue, "-P", "threads", "-c", str(CONCURRENCY), "--without-gossip"]
    argv += ["--without-mingle", "--without-heartbeat", "--loglevel", "INFO"]
    return process(argv, work / f"plain-{queue}.out", " ready.")


def storm_worker(work: Path, queue: str) -> Any:
    argv = [str(Path(sys.executable).parent / "storm"), "worker", "-Q", queue, "--pool", "threads"]
    argv += ["-c", str(CONCURRENCY), "--data-dir", str(work / "worker"), "--redis", REDIS]
    return process(argv, work / f"storm-{queue}.out", " ready.")


def plain_throughput(n: int, queue: str) -> float:
    client = redis.Redis.from_url(REDIS)
    key = f"stormbench:done:{uuid.uuid4().hex}"
    began = time.perf_counter()
    for i in range(n):
        plain_true.apply_async(args=[key, None, str(i)], queue=queue)
    for _ in range(n):
        client.blpop([key], timeout=60)
    return n / (time.perf_counter() - began)


def plain_latency(n: int, queue: str, starts_file: Path) -> list[float]:
    client = redis.Redis.from_url(REDIS)
    key = f"stormbench:done:{uuid.uuid4().hex}"
    ended: dict[str, float] = {}
    for i in range(n):
        plain_true.apply_async(args=[key, str(starts_file), f"p{i}"], queue=queue)
        item = client.blpop([key], timeout=60)
        assert item is not None
        name, _ = json.loads(item[1])
        ended[name] = time.time()  # the client knows now: the earliest it can send the next
    starts = read_starts(starts_file)
    return [starts[f"p{i + 1}"] - ended[f"p{i}"] for i in range(n - 1)]


# -- Storm, local and over Celery ---------------------------------------------------------------


def run_storm(
    url: str, data: Path, dag: Dag, command: Callable[[str], list[Any]], make: Callable[..., Any]
) -> tuple[float, Store, str]:
    store = Store(url)
    nodes = [
        PlannedNode(name, "task", Status.OPEN, {"commands": command(name), "instance_type": QUEUE})
        for name in dag.names
    ]
    wf = store.submit(nodes, dag.edges, name="bench", metadata={}, actor="bench", at=time.time())
    scheduler: Scheduler = make(store, Settings(data_dir=data, workflows={wf}))
    began = time.perf_counter()
    try:
        scheduler.run_until(lambda: store.status(wf) is not WorkflowStatus.RUNNING)
        seconds = time.perf_counter() - began
    finally:
        scheduler.close(grace=1.0)
    if store.counts(wf) != {Status.SUCCEEDED: len(dag.names)}:
        raise RuntimeError(f"{dag.label}: did not succeed: {store.counts(wf)}")
    return seconds, store, wf


def measure(report: Report, work: Path, quick: bool) -> None:
    try:
        redis.Redis.from_url(REDIS).ping()
    except redis.RedisError as exc:
        raise Unavailable(f"Redis at {REDIS}: {exc}") from exc
    backend = "postgres" if pg_role() is not None else "sqlite"
    width, length = (50, 10) if quick else (500, 50)
    section = f"celery: fan-out of {width} `true`"
    lat_section = f"celery: chain of {length}"
    makers: dict[str, Callable[..., Any]] = {
        "storm local": lambda s, st: make_scheduler(s, st, slots=CONCURRENCY),
        "storm celery": lambda s, st: make_scheduler(
            s, st, executor="celery", broker=REDIS, redis_url=REDIS, slots=1000
        ),
    }
    with storm_worker(work, QUEUE), plain_worker(work, f"plain-{QUEUE}"):
        rate = plain_throughput(width, f"plain-{QUEUE}")
        report.info("redis", section, "plain Celery tasks/s", f"{rate:.0f}")
        log(f"plain celery {rate:.0f} tasks/s")
        lat = plain_latency(length, f"plain-{QUEUE}", work / "plain-starts.txt")
        report.info(
            "redis", lat_section, "plain Celery done -> next start p50", ms(percentile(lat, 50))
        )
        for label, make in makers.items():
            with database(backend, work) as url:
                seconds, store, _ = run_storm(
                    url, work / f"data-{label}", fan_out(width), lambda _n: [["true"]], make
                )
                store.close()
            rate = (width + 2) / seconds
            log(f"{label} {rate:.0f} tasks/s")
            report.info(backend, section, f"{label} tasks/s", f"{rate:.0f}")
            starts_file = work / f"starts-{label}.txt"
            dag = chain(length)

            def probe(name: str, path: Path = starts_file) -> list[Any]:
                return [["/bin/sh", "-c", f'exec date "+{name} %s.%N" >> {shlex.quote(str(path))}']]

            with database(backend, work) as url:
                _, store, wf = run_storm(url, work / f"data-lat-{label}", dag, probe, make)
                ended = {n: store.attempts(wf, n)[0].attempt.ended_at for n in dag.names}
                store.close()
            starts = read_starts(starts_file)
            hops = [starts[b] - (ended[a] or 0.0) for a, b in itertools.pairwise(dag.names)]
            report.info(
                backend,
                lat_section,
                f"{label} success recorded -> next start p50",
                ms(percentile(hops, 50)),
            )
            report.info(
                backend,
                lat_section,
                f"{label} success recorded -> next start p99",
                ms(percentile(hops, 99)),
            )
    report.note(
        f"celery: worker pool threads, concurrency {CONCURRENCY}, Redis broker; the local "
        f"executor with {CONCURRENCY} slots; {os.cpu_count()} CPUs"
    )
