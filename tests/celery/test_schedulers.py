"""Several `storm scheduler --executor celery` processes on one PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from stormflow.core import Status, WorkflowStatus
from stormflow.engine.celery import keys
from stormflow.engine.scheduler import job_token
from stormflow.store import Store
from tests.celery.conftest import POSTGRES
from tests.celery.helpers import Farm
from tests.engine.helpers import finished, in_thread, lines, pid_alive, pids_in, submit, wait_until

pytestmark = [pytest.mark.slow, POSTGRES]


def test_two_schedulers_divide_work_and_one_killed_loses_nothing(
    store: Store, store_url: str, farm: Farm
) -> None:
    farm.worker("cpu", tag="w1", concurrency=4)
    farm.worker("cpu", tag="w2", concurrency=4)
    names = [f"n{i:02d}" for i in range(16)]
    wf = submit(store, [farm.node(n, 1.0, retries=0) for n in names])
    # Few slots each, so both schedulers take part and the victim holds running attempts.
    victim = farm.scheduler_process(store_url, "1", slots=3)
    farm.scheduler_process(store_url, "2", slots=3)

    def both_dispatched() -> bool:
        owners = {r.attempt.worker for n in names for r in store.attempts(wf, n)}
        return len(owners - {None}) == 2

    wait_until(both_dispatched, timeout=30, what=f"both schedulers dispatching\n{farm.output()}")
    victim.kill()
    started = len(lines(farm.runs))
    wait_until(finished(store, wf), timeout=60, what=f"the workflow\n{farm.output()}")
    assert store.status(wf) is WorkflowStatus.SUCCEEDED, farm.output()
    assert started < len(names)  # the kill happened mid-run

    runs = farm.runs_by_token()
    assert set(runs.values()) == {1}, runs  # no attempt was ever run twice
    assert len(runs) == len(names)  # the victim's attempts were adopted, not rerun
    for name in names:
        *before, row = store.attempts(wf, name)
        assert store.node(wf, name).status is Status.SUCCEEDED
        assert row.attempt.result == "succeeded"
        assert runs[job_token(wf, row.attempt.token)] == 1
        # a message the victim queued that no worker had taken yet is lost and retried;
        # its command never ran
        for lost in before:
            assert lost.attempt.result == "lost", lost
            assert job_token(wf, lost.attempt.token) not in runs


def test_a_scheduler_restarted_on_the_host_adopts_its_dead_predecessors_remote_commands(
    store: Store, store_url: str, farm: Farm, redis_client: redis.Redis
) -> None:
    """Issue 11, finding 7: the workers run on through the outage; the successor adopts the
    attempts (one ended during the outage, one after) and no command runs twice."""
    farm.worker("cpu", tag="w1", concurrency=2)
    wf = submit(store, [farm.node("quick", 2.0, retries=0), farm.node("long", 8.0, retries=0)])
    victim = farm.scheduler_process(store_url, "1", slots=2)
    wait_until(lambda: len(pids_in(farm.pids)) == 2, timeout=30, what=f"commands\n{farm.output()}")
    victim.kill()
    # past the owner key's ttl: the workers see their scheduler gone and run on (the grace)
    wait_until(lambda: len(lines(farm.runs)) == 2 and not redis_client.exists(
        keys.owner(store.attempts(wf, "long")[0].lease_owner or "")
    ), timeout=10, what="the owner key to lapse")  # fmt: skip
    quick_pid = pids_in(farm.pids)[0]
    wait_until(lambda: not pid_alive(quick_pid), timeout=10, what="the quick command to end")
    successor = farm.scheduler(store)  # on the same host: adopts the dead one's attempts
    with in_thread(successor, timeout=40):
        wait_until(finished(store, wf), timeout=30, what=f"the workflow\n{farm.output()}")
        for name in ("quick", "long"):
            (row,) = store.attempts(wf, name)
            assert (row.attempt.result, row.attempt.exit_code) == ("succeeded", 0)
            log = Path(row.attempt.log or "")  # shipped through the dead one's list
            wait_until(lambda p=log: p.exists() and "output of" in p.read_text(), timeout=10)
    assert store.status(wf) is WorkflowStatus.SUCCEEDED, farm.output()
    runs = farm.runs_by_token()
    assert set(runs.values()) == {1} and len(runs) == 2, runs
