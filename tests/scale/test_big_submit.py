"""Finding 1 of issue 19: a large submit into a fresh PostgreSQL database never hangs the
scheduler. The housekeeping rescan runs every few milliseconds here, so it reads the new
rows as soon as they are visible: before this was fixed the rows were committed before the
planner statistics knew them, and a rescan in between planned a nested-loop anti-join that
never finished."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from stormflow.api.embedded import EmbeddedScheduler
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.store import Store
from tests.conftest import PG_DB, PG_HOST, _pg_or_skip
from tests.engine.helpers import Planned

pytestmark = pytest.mark.postgres

SUBMITS = 20  # each a fresh database; the hang showed in most submits before the fix
WIDTH = 1998  # 1 -> 1998 -> 1: 2,000 nodes


def _fresh_schema(role: str) -> Iterator[str]:
    schema = f"storm_hang_{uuid.uuid4().hex[:12]}"
    admin = f"postgresql://{role}@{PG_HOST}/{PG_DB}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"postgresql+psycopg://{role}@{PG_HOST}/{PG_DB}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _small_history(store: Store) -> None:
    """A database that has seen one small workflow, with statistics taken then (autovacuum's
    or a refresh's): the planner believes the tables hold a handful of rows."""
    small = [Planned(n, config={"commands": [["true"]]}) for n in ("a", "b", "c")]
    store.submit(small, [("a", "b"), ("b", "c")], name="small", metadata={}, actor="t", at=1.0)
    with store.engine.connect() as conn:
        for table in ("workflows", "nodes", "edges", "attempts", "events"):
            conn.exec_driver_sql(f'ANALYZE "{table}"')
        conn.commit()


def _first_start(store: Store, workflow_id: str, limit: float) -> float | None:
    """Seconds until the workflow's first attempt started, or None after `limit`."""
    began = time.monotonic()
    while time.monotonic() - began < limit:
        if store.attempts(workflow_id, "src"):
            return time.monotonic() - began
        time.sleep(0.01)
    return None


def test_large_submits_into_fresh_databases_start_within_two_seconds(tmp_path: Path) -> None:
    role = _pg_or_skip()
    middle = [Planned(f"render{i:04d}", config={"commands": [["true"]]}) for i in range(WIDTH)]
    nodes = [
        Planned("src", config={"commands": [["sleep", "30"]]}),
        *middle,
        Planned("sink", config={"commands": [["true"]]}),
    ]
    edges = [("src", m.name) for m in middle] + [(m.name, "sink") for m in middle]
    waits: list[float] = []
    for i in range(SUBMITS):
        for url in _fresh_schema(role):
            store = Store(url)
            _small_history(store)
            data = tmp_path / f"d{i}"
            settings = Settings(data_dir=data, housekeeping_every=0.002)
            embedded = EmbeddedScheduler(Scheduler(store, settings, slots=1))
            embedded.start()
            try:
                time.sleep(0.05)  # the loop is rescanning the empty store
                workflow_id = store.submit(
                    nodes, edges, name="big", metadata={}, actor="t", at=time.time()
                )
                waited = _first_start(store, workflow_id, limit=20.0)
                assert waited is not None, f"submit {i + 1}: nothing started within 20 s"
                assert embedded.alive, f"submit {i + 1}: the scheduler stopped"
                waits.append(waited)
            finally:
                embedded.stop(grace=1.0)
                store.close()
    print(f"first start after a 2,000-node submit: max {max(waits):.3f} s of {len(waits)}")
    assert max(waits) < 2.0
