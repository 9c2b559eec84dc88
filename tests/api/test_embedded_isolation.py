"""The server's embedded scheduler survives bad stored data and reports its troubles on
/health (issue 11, finding 1: it used to die, and nothing ran in any workflow)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from stormflow.api.embedded import EmbeddedScheduler
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.store import Store
from stormflow.store.schema import nodes
from tests.api.helpers import API, client
from tests.engine.helpers import wait_until

CHAIN: dict[str, Any] = {
    "schema": 1,
    "name": "chain",
    "nodes": [
        {"name": "a", "commands": [["true"]]},
        {"name": "b", "frames": "1-2", "commands": [["echo", "{start}"]]},
    ],
    "edges": [["a", "b"]],
}


@pytest.mark.parametrize(
    "patch",
    [
        {"frames": "1-x"},
        {"commands": 5},
        {"env": 5},
        {"limits": 5},
        {"retries": "many"},
        {"retry_delay": "abc"},
        {"bogus_key": 1},
    ],
    ids=lambda p: next(iter(p)),
)
def test_a_bad_stored_node_fails_alone_under_a_live_server(
    store: Store, data_dir: Path, patch: dict[str, Any]
) -> None:
    embedded = EmbeddedScheduler(Scheduler(store, Settings(data_dir=data_dir), slots=2))
    embedded.start()
    try:
        with client(store, data_dir, scheduler=embedded) as api:
            hold = {"action": "hold", "selection": {"names": ["a"]}}
            bad = api.post(f"{API}/workflows", json=CHAIN).json()["id"]
            # hold it, write the bad value into the database behind the API's back, let it go
            api.post(f"{API}/workflows/{bad}/actions", json=hold)
            with store.write() as conn:
                conn.execute(
                    update(nodes)
                    .where(nodes.c.workflow_id == bad, nodes.c.name.in_(["a", "b.1", "b.2"]))
                    .values(patch=patch)
                )
            unhold = {"action": "unhold", "selection": {"names": ["a"]}}
            assert api.post(f"{API}/workflows/{bad}/actions", json=unhold).status_code == 200

            def ended(wf: str) -> bool:
                return api.get(f"{API}/workflows/{wf}").json()["status"] != "running"

            wait_until(lambda: ended(bad), timeout=30, what="the bad workflow to end")
            good = api.post(f"{API}/workflows", json=CHAIN).json()["id"]
            wait_until(lambda: ended(good), timeout=30, what="a good workflow to run after it")
            assert api.get(f"{API}/workflows/{good}").json()["status"] == "succeeded"
            health = api.get(f"{API}/health").json()
            assert health["scheduler"] is True
            assert health["scheduler_errors"] == 0, health  # bad data fails a node, not the loop
    finally:
        embedded.stop(grace=1.0)


def test_health_reports_what_the_loop_survived(
    store: Store, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduler = Scheduler(store, Settings(data_dir=data_dir), slots=2)
    calls = [0]
    real = scheduler.rescan

    def broken() -> None:
        calls[0] += 1
        if calls[0] == 2:
            raise RuntimeError("rescan bug")
        real()

    monkeypatch.setattr(scheduler, "rescan", broken)
    embedded = EmbeddedScheduler(scheduler)
    embedded.start()
    try:
        with client(store, data_dir, scheduler=embedded) as api:
            health = wait_until(
                lambda: (h := api.get(f"{API}/health").json())["scheduler_errors"] and h,
                timeout=10,
                what="the error to be reported",
            )
            assert health["scheduler"] is True
            assert "rescan bug" in health["scheduler_last_error"]
            wf = api.post(f"{API}/workflows", json=CHAIN).json()["id"]
            wait_until(
                lambda: api.get(f"{API}/workflows/{wf}").json()["status"] == "succeeded",
                timeout=30,
            )
            time.sleep(0.1)
            assert api.get(f"{API}/health").json()["scheduler"] is True
    finally:
        embedded.stop(grace=1.0)
