"""The executor alone against real Redis and a worker: duplicate delivery, stop before start,
secrets; and the message format."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from stormflow.core import Graph
from stormflow.engine.celery.app import TASK, make_app
from stormflow.engine.celery.executor import CeleryExecutor
from stormflow.engine.celery.wire import job_from_wire, job_to_wire
from stormflow.engine.jobs import Job, JobResult
from stormflow.engine.render import render_job
from tests.celery.helpers import REDIS_URL, TTL, Farm
from tests.engine.helpers import lines


def make_job(farm: Farm, name: str, seconds: float, **extra: object) -> Job:
    command = f'echo "{name} $STORM_ATTEMPT $STORM_WORKER" >> {farm.runs}; sleep {seconds}'
    return Job(
        workflow_id=f"wf-{farm.uid}",
        node=name,
        token=f"wf-{farm.uid}/{name}#1",
        kind="task",
        commands=(command,),
        cwd=str(farm.root / "work"),
        log_path=str(farm.data / f"{name}.log"),
        queue=farm.queue("cpu"),
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def executor(farm: Farm) -> Iterator[tuple[CeleryExecutor, queue.Queue[JobResult]]]:
    results: queue.Queue[JobResult] = queue.Queue()
    made = CeleryExecutor(results.put, REDIS_URL, redis_url=REDIS_URL, heartbeat_ttl=TTL)
    yield made, results
    made.close(grace=1.0)


@pytest.mark.slow
def test_duplicate_and_late_deliveries_run_the_command_once(
    farm: Farm, executor: tuple[CeleryExecutor, queue.Queue[JobResult]]
) -> None:
    farm.worker("cpu", tag="w", concurrency=3)
    ex, results = executor
    job = make_job(farm, "dup", 1.0)
    ex.submit(job)
    # The broker delivers the same message again while it runs (redelivery, double publish).
    app = make_app(REDIS_URL)
    message = job_to_wire(job, owner=ex.owner, heartbeat_ttl=TTL)
    app.send_task(TASK, args=[message], queue=job.queue, task_id=job.token)
    result = results.get(timeout=20)
    assert result.ok and result.token == job.token
    # ...and once more after it finished (a redelivery long after)
    app.send_task(TASK, args=[message], queue=job.queue, task_id=job.token)
    time.sleep(1.5)
    assert results.empty()
    assert len(lines(farm.runs)) == 1, lines(farm.runs)
    assert not ex.running()


@pytest.mark.slow
def test_stop_before_any_worker_took_it_reports_at_once_and_drops_the_message(
    farm: Farm, executor: tuple[CeleryExecutor, queue.Queue[JobResult]]
) -> None:
    ex, results = executor
    job = make_job(farm, "queued", 0.1)
    ex.submit(job)  # no worker serves the queue yet
    ex.stop(job.token)
    result = results.get(timeout=5)
    assert (result.ok, result.error) == (False, "stopped")
    farm.worker("cpu", tag="late")  # receives the message and drops it
    time.sleep(1.5)
    assert lines(farm.runs) == []


def test_secrets_are_not_sent(farm: Farm, redis_client: redis.Redis) -> None:
    job = make_job(
        farm, "s", 0, env={"DB_PASSWORD": "x", "API_TOKEN": "y", "LIGHTS": "on", "aws_secret": "z"}
    )
    message = job_to_wire(job, owner="o", heartbeat_ttl=5)
    assert message["job"]["env"] == {"LIGHTS": "on"}
    back, owner, ttl = job_from_wire(message)
    assert (owner, ttl, back.queue, back.commands) == ("o", 5, job.queue, job.commands)


def test_queue_is_the_instance_type(tmp_path: Path) -> None:
    graph = Graph.build([("r", "open", {"commands": [["true"]], "instance_type": "mem-64"})], [])
    job = render_job(
        data_dir=tmp_path,
        workflow_id="w",
        workflow_name="w",
        kind="task",
        node=graph.node("r"),
        token="w/r#1",
        status="running",
        log=str(tmp_path / "l"),
    )
    assert job.queue == "mem-64"
    plain = Graph.build([("r", "open", {"commands": [["true"]]})], []).node("r")
    assert (
        render_job(
            data_dir=tmp_path,
            workflow_id="w",
            workflow_name="w",
            kind="task",
            node=plain,
            token="w/r#1",
            status="running",
            log="l",
        ).queue
        is None
    )


def test_claims_no_more_than_the_workers_can_start_soon(
    farm: Farm,
    executor: tuple[CeleryExecutor, queue.Queue[JobResult]],
    redis_client: redis.Redis,
) -> None:
    """Issue 19, item 5: 1,000 slots, but messages wait in the queue only as far as the live
    workers' announced capacity goes (QUEUE_AHEAD_MIN while none announced any)."""
    from stormflow.engine.celery import keys
    from stormflow.engine.celery.executor import QUEUE_AHEAD_MIN
    from stormflow.engine.executor import NoFreeSlot

    celery, _results = executor
    sent = 0
    while celery.free_slots() > 0:
        celery.submit(make_job(farm, f"n{sent}", 1.0))
        sent += 1
    # no worker serves this test's queue; other tests' workers may announce some capacity
    assert sent == max(QUEUE_AHEAD_MIN, celery._capacity) < 1000
    with pytest.raises(NoFreeSlot):
        celery.submit(make_job(farm, "over", 1.0))
    fake = f"fake-worker-{farm.uid}"
    redis_client.hset(keys.CAPACITY, fake, f"{sent + 6} {time.time() + 5:.0f}")
    try:
        deadline = time.monotonic() + 10
        while celery.free_slots() < 6:  # the monitor reads announcements every second
            assert time.monotonic() < deadline, celery.free_slots()
            time.sleep(0.05)
    finally:
        redis_client.hdel(keys.CAPACITY, fake)


def test_a_celery_scheduler_whose_owner_key_lapsed_is_gone(
    farm: Farm,
    executor: tuple[CeleryExecutor, queue.Queue[JobResult]],
    redis_client: redis.Redis,
) -> None:
    """Issue 19, item 5: a Celery scheduler's heartbeat is its owner key; once it lapsed (the
    scheduler was seen before) its claims are taken over without waiting for the lease. A
    scheduler that never used Redis (the local executor) is never taken for gone."""
    from stormflow.engine.celery import keys

    celery, _results = executor
    gone, alive, never = (f"host:1.2:{farm.uid}{n}" for n in ("g", "a", "n"))
    try:
        redis_client.set(keys.seen(gone), "1", ex=60)
        redis_client.set(keys.seen(alive), "1", ex=60)
        redis_client.set(keys.owner(alive), "1", ex=60)
        assert celery.owner_gone(gone)
        assert not celery.owner_gone(alive)
        assert not celery.owner_gone(never)
        assert not celery.owner_gone(celery.owner)  # itself: its key is kept alive
    finally:
        redis_client.delete(keys.seen(gone), keys.seen(alive), keys.owner(alive))
