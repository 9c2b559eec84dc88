"""Every document in examples/ runs to success with `storm run`, as a user runs it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stormflow import core
from stormflow.core import Status
from stormflow.store import Store
from tests.engine.test_cli_run import ROOT, clean_env, storm, workflow_id

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
#: Examples that stop on purpose before the end (a person releases the rest).
STOPS_HOLDING = {"scout_render.yaml", "blender_render.yaml"}  # blender: tests/blender
#: Examples that need a server, a provider and the demo farm: run end to end by
#: tests/demo/test_external_example.py instead.
NEEDS_A_FARM = {"external_render.yaml"}


def test_every_example_is_covered() -> None:
    assert len(EXAMPLES) >= 4
    assert {p.name for p in EXAMPLES} >= STOPS_HOLDING | NEEDS_A_FARM


@pytest.mark.parametrize(
    "path",
    [p for p in EXAMPLES if p.name not in STOPS_HOLDING | NEEDS_A_FARM],
    ids=lambda p: p.name,
)
def test_example_runs_to_success(path: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = storm("run", str(path), "--data-dir", str(data), "--quiet", env=clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "succeeded in " in done.stdout
    store = Store.default(data)
    try:
        counts = store.counts(workflow_id(done.stdout))
    finally:
        store.close()
    assert set(counts) == {Status.SUCCEEDED}


def test_scout_example_runs_its_scouts_first_then_the_rest(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = str(ROOT / "examples" / "scout_render.yaml")
    first = storm("run", path, "--data-dir", str(data), "--quiet", env=clean_env())
    assert first.returncode == 1, first.stdout + first.stderr
    assert "holding: nodes wait on a hold" in first.stdout
    wf = workflow_id(first.stdout)
    store = Store.default(data)
    try:
        rows = {r.name: r.status for r in store.nodes(wf)}
        scouts = {"render.1-5", "render.16-20", "render.36-40"}
        assert {n for n, s in rows.items() if s is Status.SUCCEEDED} == {"simulate", *scouts}
        others = {n for n in rows if n.startswith("render.")} - scouts
        assert len(others) == 5 and all(rows[n] is Status.HOLDING for n in others)
        assert all(store.attempts(wf, n) == [] for n in others)  # never ran
        # the scouts render the simulation's cache: they ran after it
        (sim,) = store.attempts(wf, "simulate")
        for name in scouts:
            (attempt,) = store.attempts(wf, name)
            assert attempt.attempt.started_at is not None and sim.attempt.ended_at is not None
            assert attempt.attempt.started_at >= sim.attempt.ended_at
        # what `storm unhold <id> --status holding` does, then the run goes on
        store.transact(wf, lambda v: core.unhold(v, sorted(others), at=time.time()))
    finally:
        store.close()
    rest = storm("resume", wf, "--data-dir", str(data), "--quiet", env=clean_env())
    assert rest.returncode == 0, rest.stdout + rest.stderr
    renders = data / "work" / wf / "renders"
    assert len(list(renders.glob("*.png"))) == 40
    assert len(list((data / "outbox").glob("*.eml"))) == 1
