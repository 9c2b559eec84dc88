"""Waits outlive schedulers: kill -9 while 100 jobs wait (none resubmitted), and a provider's
max_concurrent held across two `storm scheduler` processes sharing PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from stormflow.core import WorkflowStatus
from stormflow.engine.providers import parse_config
from stormflow.store import Store
from stormflow.store.waits import WAITING_OWNER
from tests.engine.helpers import Planned, SchedulerProcess, submit
from tests.external.conftest import Farm, provider, wait_for

pytestmark = pytest.mark.slow


def add(store: Store, config: dict[str, Any]) -> None:
    checked = parse_config(config)
    store.put_provider(
        checked.name,
        checked.kind,
        checked.public(),
        at=time.time(),
        max_concurrent=checked.max_concurrent,
    )


def jobs(count: int, **request: Any) -> list[Planned]:
    return [
        Planned(f"render{i}", "external", config={"provider": "farm", "request": request})
        for i in range(count)
    ]


def test_scheduler_kill_9_while_100_jobs_wait_resumes_each_without_resubmitting(
    store_url: str, farm: Farm, tmp_path: Path
) -> None:
    store = Store(store_url)
    try:
        add(store, provider(farm, poll=[1.0]))
        wf = submit(store, jobs(100, seconds=10.0, callbacks="lose"))
        first = SchedulerProcess(store_url, tmp_path / "data", lease_seconds=5, slots=4, tag="a")
        try:
            wait_for(
                lambda: sum(1 for w in store.waits_of(wf) if w.state == "waiting") == 100,
                40,
                "100 jobs waiting",
            )
            first.kill()  # SIGKILL: no goodbye, no lease handed back
            assert store.status(wf) is WorkflowStatus.RUNNING
            assert set(store.lease_owners()) == {WAITING_OWNER}
        finally:
            first.kill()
        second = SchedulerProcess(store_url, tmp_path / "data", lease_seconds=5, slots=4, tag="b")
        try:
            wait_for(lambda: store.status(wf) is not WorkflowStatus.RUNNING, 60, "the workflow")
        finally:
            second.kill()
        assert store.status(wf) is WorkflowStatus.SUCCEEDED, second.output()
        stats = farm.stats()
        assert (stats["submits"], stats["repeats"]) == (100, 0)  # none submitted again
        waits = store.waits_of(wf)
        assert {w.ended_by for w in waits} == {"poll"}
        assert all(w.token.endswith("#1") for w in waits)  # no attempt was lost and retried
    finally:
        store.close()


@pytest.mark.postgres
def test_max_concurrent_holds_across_two_schedulers_on_postgresql(
    pg_store_url: str, farm: Farm, tmp_path: Path
) -> None:
    store = Store(pg_store_url)
    try:
        add(store, provider(farm, poll=[0.2], max_concurrent=2))
        procs = [
            SchedulerProcess(
                pg_store_url, tmp_path / f"data{i}", lease_seconds=5, slots=4, tag=str(i)
            )
            for i in range(2)
        ]
        try:
            # both schedulers up (they print their line) before there is work to share
            wait_for(lambda: all(" on " in p.output() for p in procs), 30, "two schedulers")
            wf = submit(store, jobs(8, seconds=0.4, callbacks="lose"))
            wait_for(lambda: store.status(wf) is not WorkflowStatus.RUNNING, 60, "the workflow")
        finally:
            for proc in procs:
                proc.kill()
        assert store.status(wf) is WorkflowStatus.SUCCEEDED
        stats = farm.stats()
        assert stats["submits"] == 8
        assert stats["peak"] <= 2  # never more than max_concurrent at the provider at once
        workers = {e.payload.get("worker") for e in store.events(wf) if e.type == "attempt-started"}
        assert len(workers) == 2, "both schedulers took part"
        assert [r.used for r in store.limits() if r.name == "provider:farm"] == [0]
    finally:
        store.close()
