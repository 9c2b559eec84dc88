"""3. A 100,000-node render workflow: `sim` -> `render` with frames 1-N, chunk_size 1.

Runs as subprocesses (`python -m bench.big plan|actions ...`) so each phase's peak RSS is its
own; each prints one JSON object on stdout. The parent (`measure`) turns them into rows.

- plan:    validate + expand the document, submit the plan (times; peak RSS).
- actions: hold one leaf (cold first call, then the median of 20), bring every node to
           succeeded (bench-only fast path, see `set_all_succeeded`), retry `sim` so the
           cascade reaches every chunk (the only timed part), hold again on the larger tables.
           With --tracemalloc, the setup + retry is repeated under tracemalloc to get the
           Python heap's peak during the cascade.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import Report, database, log, median, ms, rss_now_mb, rss_peak_mb, sec

TARGET_ACTION = 0.050
TARGET_CASCADE = 10.0
TARGET_RSS_MB = 500.0
HOLDS = 20


# -- phases (in the subprocess) -------------------------------------------------------------------


def phase_plan(url: str, frames: int) -> dict[str, Any]:
    from stormflow.spec import Workflow, expand
    from stormflow.store import Store

    out: dict[str, Any] = {"rss_start_mb": rss_now_mb()}
    wf = Workflow("bench_big", metadata={"shot": "sh010"})
    sim = wf.task("sim", [["true"]])
    render = wf.task("render", [["true", "{start}", "{end}"]], frames=f"1-{frames}", chunk_size=1)
    sim >> render
    began = time.perf_counter()
    document = wf.document()
    out["validate_s"] = time.perf_counter() - began
    began = time.perf_counter()
    plan = expand(document)
    out["expand_s"] = time.perf_counter() - began
    out["nodes"] = len(plan.nodes)
    out["edges"] = len(plan.edges)
    out["rss_after_expand_mb"] = rss_now_mb()
    store = Store(url)
    began = time.perf_counter()
    out["workflow_id"] = store.submit(
        plan.nodes,
        plan.edges,
        name=plan.name,
        metadata=plan.metadata,
        actor="bench",
        at=time.time(),
    )
    out["submit_s"] = time.perf_counter() - began
    store.close()
    out["rss_peak_mb"] = rss_peak_mb()
    return out


def set_all_succeeded(store: Any, workflow_id: str, at: float) -> None:
    """Bench-only fast path: every node of the workflow succeeded with one fresh attempt.

    The rows are what `core.run` + `core.started` + `core.succeed` persist (status, attempt_seq,
    one current-run attempt with token `<name>#<seq>`), minus their events, written with two
    set-based statements instead of 200,000 core transitions.
    """
    from sqlalchemy import text

    with store.write() as conn:
        conn.execute(
            text(
                "INSERT INTO attempts (workflow_id, node, number, token, created_at, not_before,"
                " started_at, ended_at, result, exit_code, worker)"
                " SELECT workflow_id, name, 1, name || '#' || CAST(attempt_seq + 1 AS TEXT),"
                " :at, :at, :at, :at, 'succeeded', 0, 'bench'"
                " FROM nodes WHERE workflow_id = :wf"
            ),
            {"wf": workflow_id, "at": at},
        )
        conn.execute(
            text(
                "UPDATE nodes SET status = 'succeeded', attempt_seq = attempt_seq + 1"
                " WHERE workflow_id = :wf"
            ),
            {"wf": workflow_id},
        )


def _hold_leaves(store: Any, wf: str, leaves: list[str]) -> list[float]:
    from stormflow import core

    times = []
    for leaf in leaves:
        began = time.perf_counter()
        store.transact(wf, lambda v, leaf=leaf: core.hold(v, [leaf], at=time.time()))
        times.append(time.perf_counter() - began)
    return times


def _retry_root(store: Any, wf: str) -> tuple[float, int]:
    from stormflow import core

    began = time.perf_counter()
    applied = store.transact(wf, lambda v: core.retry(v, ["sim"], at=time.time(), actor="bench"))
    seconds = time.perf_counter() - began
    return seconds, int(applied.response["counts"]["cascaded"])


def phase_actions(url: str, wf: str, frames: int, tracemalloc_run: bool) -> dict[str, Any]:
    from stormflow.core import Status
    from stormflow.store import Store

    out: dict[str, Any] = {"rss_start_mb": rss_now_mb()}
    store = Store(url)
    leaves = [f"render.{f}" for f in range(1, frames + 1, max(1, frames // (2 * HOLDS + 1)))]
    fresh, later = leaves[: HOLDS + 1], leaves[HOLDS + 1 : 2 * HOLDS + 1]
    times = _hold_leaves(store, wf, fresh)
    out["hold_cold_s"] = times[0]  # loads the workflow's adjacency (cached afterwards)
    out["hold_fresh_s"] = times[1:]

    began = time.perf_counter()
    set_all_succeeded(store, wf, time.time())
    out["setup_s"] = time.perf_counter() - began
    gc.collect()
    out["rss_before_cascade_mb"] = rss_now_mb()
    out["rss_peak_before_cascade_mb"] = rss_peak_mb()
    out["cascade_s"], out["cascaded"] = _retry_root(store, wf)
    out["rss_peak_mb"] = rss_peak_mb()
    counts = store.counts(wf)
    if counts != {Status.OPEN: frames + 1}:
        raise RuntimeError(f"after the cascade: {counts}")

    out["hold_after_s"] = _hold_leaves(store, wf, later)

    # reads the scheduler makes per dispatch (counts, for ${status}) and per poll/idle check
    polls = {
        "counts": lambda: store.counts(wf),
        "status": lambda: store.status(wf),
        "runnable_nodes": lambda: store.runnable_nodes(wf),
    }
    for key, fn in polls.items():
        times = []
        for _ in range(5):
            began = time.perf_counter()
            fn()
            times.append(time.perf_counter() - began)
        out[f"poll_{key}_s"] = median(times)

    if tracemalloc_run:
        import tracemalloc

        set_all_succeeded(store, wf, time.time())
        gc.collect()
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        traced_s, _ = _retry_root(store, wf)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["heap_peak_mb"] = (peak - base) / 2**20
        out["cascade_traced_s"] = traced_s
    store.close()
    return out


def _subprocess(args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.big", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the parent -----------------------------------------------------------------------------------


def measure(report: Report, backend: str, work: Path, quick: bool, tracemalloc: bool) -> None:
    frames = 2000 if quick else 100_000
    section = f"3 big workflow ({frames + 1} nodes)"
    with database(backend, work) as url:
        log(f"{backend} big: plan + submit {frames + 1} nodes")
        plan = _subprocess(["plan", "--url", url, "--frames", str(frames)])
        log(f"{backend} big: actions and cascade")
        # the traced repeat measures the Python heap, which is about the same on both backends:
        # done on SQLite only, where the cascade is quicker
        extra = ["--tracemalloc"] if tracemalloc and backend == "sqlite" else []
        act = _subprocess(
            ["actions", "--url", url, "--wf", plan["workflow_id"], "--frames", str(frames), *extra]
        )
    info = lambda name, value: report.info(backend, section, name, value)  # noqa: E731
    info("validate document (parse + rules)", sec(plan["validate_s"]))
    info(f"expand ({plan['nodes']} nodes, {plan['edges']} edges)", sec(plan["expand_s"]))
    info("submit (transactions of 5,000 rows)", sec(plan["submit_s"]))
    info(
        "plan+submit process: peak RSS (start -> peak)",
        f"{plan['rss_start_mb']:.0f} -> {plan['rss_peak_mb']:.0f} MB",
    )
    info("hold one leaf, first call (loads adjacency)", ms(act["hold_cold_s"]))
    hold = median(act["hold_fresh_s"])
    report.check(
        backend,
        section,
        f"hold one leaf, median of {len(act['hold_fresh_s'])}",
        ms(hold),
        "< 50 ms",
        hold < TARGET_ACTION,
    )
    after = median(act["hold_after_s"])
    report.check(
        backend,
        section,
        "hold one leaf after the cascade, median",
        ms(after),
        "< 50 ms",
        after < TARGET_ACTION,
    )
    info("setup: every node succeeded (bench fast path)", sec(act["setup_s"]))
    report.check(
        backend,
        section,
        f"retry sim, cascade to {act['cascaded']} nodes",
        sec(act["cascade_s"]),
        "< 10 s",
        act["cascade_s"] < TARGET_CASCADE and act["cascaded"] == frames,
    )
    report.check(
        backend,
        section,
        "actions process: peak RSS",
        f"{act['rss_peak_mb']:.0f} MB",
        "< 500 MB",
        act["rss_peak_mb"] < TARGET_RSS_MB,
    )
    info(
        "  RSS before cascade -> peak after",
        f"{act['rss_before_cascade_mb']:.0f} -> {act['rss_peak_mb']:.0f} MB",
    )
    for key, what in (
        ("counts", "store.counts (per dispatch, for ${status})"),
        ("status", "store.status (run_until's done check)"),
        ("runnable_nodes", "store.runnable_nodes (rescan every 0.5 s)"),
    ):
        info(f"  read on this workflow: {what}", ms(act[f"poll_{key}_s"]))
    if "heap_peak_mb" in act:
        info("  cascade Python heap peak (tracemalloc)", f"{act['heap_peak_mb']:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.big")
    parser.add_argument("phase", choices=["plan", "actions"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--frames", type=int, required=True)
    parser.add_argument("--wf")
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()
    if args.phase == "plan":
        result = phase_plan(args.url, args.frames)
    else:
        result = phase_actions(args.url, args.wf, args.frames, args.tracemalloc)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
