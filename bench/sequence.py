"""A sequence of sub-workflows at scale (issue 15): `python -m bench --sequence [--quick]`.

One document: a `workflow` node with `for_each` over 100 shots (10 with --quick), each shot a
child workflow `sim -> render` with `render` a 100-chunk frame range (held: the children stop
there, so the figures are about sub-workflows, not about rendering), then `edit` below them.

1. validate and expand the document (every child is checked with its params);
2. store it; a scheduler (this process, local executor, 2 slots) starts every child (the
   100 claimed shots in groups of up to 5,000 rows, one transaction per group: each
   child's rows, its link, the hand-over of its parent attempt) and runs each child's
   `sim`: until every child is holding and the parent reports holding;
3. the reads the Monitor and the CLI make of it: the parent's children, the rolled-up
   counts at every depth, the list without children;
4. (headless Chromium, when present, against `storm server --no-scheduler` on the same
   store) the Monitor: opening the parent until its graph and rolled-up header show,
   the shots' child status bars showing, and opening one child (a double-click) until its
   graph shows. Target for each: < 3 s (docs/ui.md, Scale).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import Report, database, log, sec

OPEN_TARGET = 3.0


def document(shots: int, chunks: int) -> dict[str, Any]:
    shot = {
        "schema": 1,
        "name": "shot",
        "params": {"shot": {"type": "string"}},
        "nodes": [
            {"name": "sim", "commands": [["true"]]},
            {
                "name": "render",
                "status": "holding",
                "frames": f"1-{chunks}",
                "chunk_size": 1,
                "commands": [["echo", "${shot}", "{start}"]],
            },
        ],
        "edges": [["sim", "render"]],
    }
    return {
        "schema": 1,
        "name": f"sequence_{shots}",
        "nodes": [
            {
                "name": "shots",
                "kind": "workflow",
                "template": shot,
                "for_each": [{"shot": f"sh{i:04d}"} for i in range(1, shots + 1)],
                "key": "shot",
            },
            {"name": "edit", "commands": [["true"]]},
        ],
        "edges": [["shots", "edit"]],
    }


def measure(report: Report, backend: str, work: Path, quick: bool) -> None:
    from stormflow.core import WorkflowStatus
    from stormflow.engine.scheduler import Scheduler, Settings
    from stormflow.spec import Severity, expand, validate
    from stormflow.store import Store

    shots = 10 if quick else 100
    chunks = 100
    section = "sequence"
    label = f"{shots} shots x {chunks} chunks"
    with database(backend, work) as url:
        doc = document(shots, chunks)
        began = time.perf_counter()
        errors = [e for e in validate(doc) if e.severity is Severity.ERROR]
        assert not errors, errors[:3]
        plan = expand(doc)
        report.info(
            backend, section, f"{label}: validate + expand", sec(time.perf_counter() - began)
        )
        store = Store(url)
        try:
            began = time.perf_counter()
            wf = store.submit(
                plan.nodes, plan.edges, name=plan.name, metadata={}, actor="bench", at=time.time()
            )
            report.info(
                backend, section, f"{label}: submit the parent", sec(time.perf_counter() - began)
            )
            # the children's submits (the parent is stored): how many transactions, how long
            spent = {"transactions": 0, "seconds": 0.0}

            def counted(submit: Callable[..., Any]) -> Callable[..., Any]:
                def timed(*args: Any, **kwargs: Any) -> Any:
                    began = time.perf_counter()
                    try:
                        return submit(*args, **kwargs)
                    finally:
                        spent["transactions"] += 1
                        spent["seconds"] += time.perf_counter() - began

                return timed

            setattr(store, "submit", counted(store.submit))  # noqa: B010
            setattr(store, "submit_small", counted(store.submit_small))  # noqa: B010
            data = work / f"data-{backend}"
            settings = Settings(data_dir=data, workflows={wf}, supervised=False)
            scheduler = Scheduler(store, settings, slots=2)
            began = time.perf_counter()
            started: list[float] = []

            def done() -> bool:
                if not started and len(store.children(wf)) == shots:
                    started.append(time.perf_counter() - began)
                return store.status(wf) is not WorkflowStatus.RUNNING

            try:
                scheduler.run_until(done)
            finally:
                scheduler.close(grace=1.0)
            held = time.perf_counter() - began
            children = store.children(wf)
            assert len(children) == shots and store.status(wf) is WorkflowStatus.HOLDING
            report.info(
                backend,
                section,
                f"{label}: every child started",
                sec(started[0] if started else held),
            )
            report.info(
                backend,
                section,
                f"{label}: every child holding (parent reports holding)",
                sec(held),
            )
            report.info(
                backend,
                section,
                f"{label}: children stored in {spent['transactions']} transactions",
                sec(spent["seconds"]),
            )
            report.info(
                backend, section, f"{label}: nodes stored", f"{shots * (chunks + 1) + shots + 1:,}"
            )
            began = time.perf_counter()
            store.children(wf)
            report.info(
                backend, section, "read the parent's children", sec(time.perf_counter() - began)
            )
            began = time.perf_counter()
            rolled = store.rollup(wf)
            report.info(
                backend,
                section,
                f"rollup at every depth ({sum(rolled.values()):,} nodes)",
                sec(time.perf_counter() - began),
            )
            began = time.perf_counter()
            top = store.workflows(children=False, limit=100)
            assert [w.id for w in top] == [wf]
            report.info(backend, section, "list without children", sec(time.perf_counter() - began))
        finally:
            store.close()
        monitor(report, backend, url, data, wf, label)


def monitor(report: Report, backend: str, url: str, data: Path, wf: str, label: str) -> None:
    """The Monitor in headless Chromium, when Playwright and Chromium are here."""
    try:
        from playwright.sync_api import sync_playwright
        from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, Server
    except ImportError as exc:
        report.note(f"{backend}: Monitor not measured ({exc})")
        return
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        report.note(f"{backend}: Monitor not measured (no Chromium at {CHROMIUM})")
        return
    srv = Server(data, extra=("--no-scheduler", "--db", url))  # the same store, API only
    section = "sequence Monitor"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 900})
            page.set_default_timeout(60_000)
            shots = len(srv.api.get(f"/workflows/{wf}/children").json())
            began = time.perf_counter()
            # the list view: its rows carry the bars at any size (the graph draws 100 shots as
            # tiles far out, bars on the nodes once zoomed in)
            page.goto(srv.page_url(f"workflows/{wf}?view=list"))
            page.get_by_test_id("rollup").wait_for()
            page.locator('[data-testid="list-row"][data-name="shots.sh0001"]').wait_for()
            opened = time.perf_counter() - began
            report.check(
                backend, section, f"{label}: open the parent (list, rollup)", sec(opened),
                f"< {OPEN_TARGET:g} s", opened < OPEN_TARGET,
            )  # fmt: skip
            # the rows in view show their child's status bar (a screenful at 100 shots)
            page.wait_for_function(
                f"document.querySelectorAll('[data-testid=child-bar]').length >= {min(shots, 10)}"
            )
            bars = time.perf_counter() - began
            report.check(
                backend, section, "open the parent: child status bars shown", sec(bars),
                f"< {OPEN_TARGET:g} s", bars < OPEN_TARGET,
            )  # fmt: skip
            node = page.locator('[data-testid="list-row"][data-name="shots.sh0001"]')
            began = time.perf_counter()
            node.dblclick()
            page.get_by_test_id("breadcrumb").wait_for()
            page.get_by_test_id("progress-text").wait_for()
            child = time.perf_counter() - began
            report.check(
                backend, section, "double-click a shot: its child's graph shown", sec(child),
                f"< {OPEN_TARGET:g} s", child < OPEN_TARGET,
            )  # fmt: skip
            browser.close()
    except Exception as exc:  # the figures above stay; say what broke
        log(f"{backend}: the Monitor measurement failed: {exc}")
        report.note(f"{backend}: Monitor measurement failed: {type(exc).__name__}: {exc}")
    finally:
        srv.stop()
