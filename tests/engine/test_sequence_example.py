"""examples/sequence.yaml end to end (issue 15): three shots of the demo pipeline run as
sub-workflows, then the edit of all three is encoded into one movie. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stormflow.core import Status, WorkflowStatus
from stormflow.engine.render import workflow_dir
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.spec import expand
from stormflow.spec.templates import resolve
from stormflow.store import Store
from tests.engine.helpers import drive, finished
from tests.engine.subworkflow_helpers import integrity

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.slow
def test_the_sequence_example_renders_three_shots_into_one_movie(
    store: Store, tmp_path: Path
) -> None:
    path = EXAMPLES / "sequence.yaml"
    document = resolve(yaml.safe_load(path.read_text()), base_dir=EXAMPLES, source=f"file:{path}")
    plan = expand(document)
    wf = store.submit(plan.nodes, plan.edges, name=plan.name, metadata={}, actor="t", at=0.0)
    data = tmp_path / "data"
    scheduler = Scheduler(
        store,
        Settings(data_dir=data, workflows={wf}, supervised=False, housekeeping_every=0.05),
        slots=4,
    )
    try:
        drive(scheduler, finished(store, wf), timeout=120)
    finally:
        scheduler.close(grace=1.0)
    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    children = store.children(wf)
    assert [c.node for c in children] == ["shots.sh010", "shots.sh020", "shots.sh030"]
    for child in children:
        assert child.status == "succeeded"
        assert set(store.counts(child.child_id)) == {Status.SUCCEEDED}
        assert (workflow_dir(data, child.child_id) / "movie.mp4").stat().st_size > 0
    here = workflow_dir(data, wf)
    assert len(list((here / "cut").glob("frame.*.png"))) == 12 + 8 + 12  # shots.csv
    assert (here / "sequence.mp4").stat().st_size > 0
    integrity(store, wf, *(c.child_id for c in children))
