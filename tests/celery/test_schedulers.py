"""Several `storm scheduler --executor celery` processes on one PostgreSQL database."""

from __future__ import annotations

import pytest
import redis

from stormflow.core import Status, WorkflowStatus
from stormflow.engine.celery import keys
from stormflow.engine.scheduler import job_token
from stormflow.store import Store
from tests.celery.conftest import POSTGRES
from tests.celery.helpers import Farm
from tests.engine.helpers import finished, lines, pid_alive, pids_in, submit, wait_until

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
    lost = 0
    for name in names:
        *earlier, last = [r.attempt for r in store.attempts(wf, name)]
        assert store.node(wf, name).status is Status.SUCCEEDED
        assert runs[job_token(wf, last.token)] == 1
        assert all(a.result == "lost" for a in earlier), earlier
        lost += len(earlier)
    assert lost, "the killed scheduler held no attempt"
    # the victim's commands were killed by their workers once its owner key lapsed
    wait_until(
        lambda: not any(pid_alive(p) for p in pids_in(farm.pids)), timeout=10, what="orphans"
    )


def test_a_scheduler_restarted_on_the_host_stops_its_dead_predecessors_remote_commands(
    store: Store, store_url: str, farm: Farm, redis_client: redis.Redis
) -> None:
    """The dead scheduler's attempts are retried at once, so their commands, still running on
    workers, get stop keys first (not a whole ttl later, when its owner key lapses)."""
    farm.worker("cpu", tag="w1", concurrency=2)
    wf = submit(store, [farm.node("long", 60.0, retries=0)])
    victim = farm.scheduler_process(store_url, "1", slots=2)
    wait_until(lambda: pids_in(farm.pids), timeout=30, what=f"the command\n{farm.output()}")
    (first,) = [r.attempt for r in store.attempts(wf, "long")]
    victim.kill()
    successor = farm.scheduler(store)  # on the same host: recovers the dead one at once
    try:
        assert redis_client.exists(keys.stop(job_token(wf, first.token)))
        (pid,) = pids_in(farm.pids)
        wait_until(lambda: not pid_alive(pid), timeout=10, what="the orphaned command killed")
    finally:
        successor.close(grace=1.0)
