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
from tests.engine.helpers import drive, finished
from tests.engine.subworkflow_helpers import PY, child_doc, integrity, node, parent

#: Runs a scheduler on the parent workflow and SIGKILLs itself at the point named: inside the
#: child's submit transaction before it commits, or right after it committed.
SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from stormflow.engine import subworkflows
    from stormflow.engine.scheduler import Scheduler, Settings
    from stormflow.store import Store

    url, data_dir, workflow_id, point = sys.argv[1:5]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    link = subworkflows.Subworkflows._link
    start = subworkflows.Subworkflows.start

    def linked(self, conn, child_id, **kw):
        link(self, conn, child_id, **kw)
        if point == "before-commit":
            die()

    def started(self, *args, **kw):
        start(self, *args, **kw)
        if point == "after-commit":
            die()

    subworkflows.Subworkflows._link = linked
    subworkflows.Subworkflows.start = started
    store = Store(url)
    settings = Settings(data_dir=Path(data_dir), workflows={workflow_id}, supervised=False)
    Scheduler(store, settings, slots=2).run_until(lambda: False)
    """
)


@pytest.mark.parametrize("point", ["before-commit", "after-commit"])
def test_a_scheduler_killed_around_a_childs_start_leaves_exactly_one_child(
    store: Store, store_url: str, tmp_path: Path, point: str
) -> None:
    doc = child_doc([node("a", [PY, "-c", "pass"])])
    wf = parent(store, doc)
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORM_")}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, store_url, str(data), wf, point],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    with store.read() as conn:
        before = conn.execute(workflows.select()).all()
    assert len(before) == (1 if point == "before-commit" else 2)
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
    assert len(children) == 1
    with store.read() as conn:
        assert len(conn.execute(workflows.select()).all()) == 2  # the parent and one child
    shot = store.node(wf, "shot")
    results = [a.result for a in shot.attempts]
    if point == "before-commit":
        assert results == ["lost", "succeeded"]  # the first attempt's claim died with it
    else:
        assert results == ["succeeded"]  # followed by the next scheduler
    integrity(store, wf, children[0].child_id)
