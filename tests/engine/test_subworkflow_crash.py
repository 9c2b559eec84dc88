"""kill -9 of a scheduler around a child's start (issue 15, crash safety): the child, its link
and the hand-over of the parent attempt are one transaction, so a scheduler killed before
its commit leaves no child (the attempt is lost and retried: one child), and one killed
after it leaves exactly one child, which the next scheduler follows. SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stormflow.core import WorkflowStatus
from stormflow.engine.scheduler import Scheduler, Settings
from stormflow.store import Store
from stormflow.store.schema import workflows
from tests.engine.helpers import drive, finished, submit
from tests.engine.subworkflow_helpers import PY, child_doc, integrity, node, parent, shot

#: Runs a scheduler on the parent workflow and SIGKILLs itself at the point named: inside the
#: child's submit transaction before it commits, or right after it committed.
SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from stormflow.engine import subworkflows
    from stormflow.engine.scheduler import Scheduler, Settings
    from stormflow.store import Store

    url, data_dir, workflow_id, point = sys.argv[1:5]  # argv[5]: children in the group

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    link = subworkflows.Subworkflows._link
    start = subworkflows.Subworkflows.start_many

    linked_count = [0]

    def linked(self, conn, child_id, **kw):
        link(self, conn, child_id, **kw)
        linked_count[0] += 1
        if point == "before-commit" and linked_count[0] == int(sys.argv[5]):
            die()  # every child of the group linked, none committed

    def started(self, *args, **kw):
        start(self, *args, **kw)
        if point == "after-commit":
            die()

    subworkflows.Subworkflows._link = linked
    subworkflows.Subworkflows.start_many = started
    store = Store(url)
    settings = Settings(data_dir=Path(data_dir), workflows={workflow_id}, supervised=False)
    Scheduler(store, settings, slots=2).run_until(lambda: False)
    """
)


@pytest.mark.parametrize("shots", [1, 4])
@pytest.mark.parametrize("point", ["before-commit", "after-commit"])
def test_a_scheduler_killed_around_a_childs_start_leaves_exactly_one_child(
    store: Store, store_url: str, tmp_path: Path, point: str, shots: int
) -> None:
    """With 4 shots claimed together their children start in one transaction: a kill before
    its commit leaves none of them, after it all four; either way one child per shot."""
    doc = child_doc([node("a", [PY, "-c", "pass"])])
    if shots == 1:
        wf = parent(store, doc)
    else:
        wf = submit(store, [shot(f"shot{i}", doc) for i in range(shots)], [], name="seq")
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORM_")}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, store_url, str(data), wf, point, str(shots)],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    with store.read() as conn:
        before = conn.execute(workflows.select()).all()
    assert len(before) == (1 if point == "before-commit" else 1 + shots)
    scheduler = Scheduler(
        store,
        Settings(data_dir=data, workflows={wf}, supervised=False, housekeeping_every=0.05),
        slots=2,
    )
    try:
        drive(scheduler, finished(store, wf), timeout=30)
    finally:
        scheduler.close(grace=1.0)
    assert store.status(wf) is WorkflowStatus.SUCCEEDED
    children = store.children(wf)
    assert len(children) == shots
    with store.read() as conn:  # the parent and one child per shot
        assert len(conn.execute(workflows.select()).all()) == 1 + shots
    names = ["shot"] if shots == 1 else [f"shot{i}" for i in range(shots)]
    for name in names:
        results = [a.result for a in store.node(wf, name).attempts]
        if point == "before-commit":
            assert results == ["lost", "succeeded"]  # the first attempt's claim died with it
        else:
            assert results == ["succeeded"]  # followed by the next scheduler
    integrity(store, wf, *(c.child_id for c in children))
