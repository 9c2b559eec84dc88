"""`python -m bench [--quick] [--backend sqlite|postgres|both] [--skip-big] [--submit-latency]
[--many-workflows] [--watchers]`: print the figures.

No timing assertions: every figure is printed with its target and PASS/MISS; the exit code is 0
unless the benchmark itself broke.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import time
from pathlib import Path

from . import big, latency, many, supervision, throughput
from .common import Report, Unavailable, cpu_slots, log, pg_role, scratch_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--skip-big", action="store_true", help="skip the 100,000-node workflow")
    parser.add_argument(
        "--repeats", type=int, default=None, help="throughput runs per shape (median; default 3)"
    )
    parser.add_argument(
        "--no-tracemalloc", action="store_true", help="skip the traced repeat of the cascade"
    )
    parser.add_argument(
        "--celery", action="store_true", help="only Storm over Celery vs local vs plain Celery"
    )
    parser.add_argument(
        "--submit-latency",
        action="store_true",
        help="only the API's latency while a 200,000-node workflow is submitted and started",
    )
    parser.add_argument(
        "--many-workflows",
        action="store_true",
        help="only the many-workflows measurements (1,000 and 10,000 stored workflows)",
    )
    parser.add_argument(
        "--watchers",
        action="store_true",
        help="only watchers (SSE, polling) on a real storm server: 0-500, both backends",
    )
    parser.add_argument(
        "--external",
        action="store_true",
        help="only external jobs: webhook-to-downstream latency, memory of waiting jobs",
    )
    parser.add_argument(
        "--watch-tasks", type=int, default=None, help="--watchers: tasks in the workflow"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="parent of the scratch directory (default ~/.storm-bench; e.g. /tmp to compare)",
    )
    args = parser.parse_args(argv)
    if args.celery:
        from . import celery_bench

        report = Report()
        with scratch_dir(parent=args.dir) as work:
            celery_bench.measure(report, work, args.quick)
        print(report.table(), flush=True)
        return 0
    if args.submit_latency:
        from . import submit_latency

        report = Report()
        wanted = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
        with scratch_dir(parent=args.dir) as work:
            for backend in wanted:
                try:
                    submit_latency.measure(report, backend, work, args.quick)
                except Unavailable as exc:
                    report.note(f"{backend} skipped: {exc}")
        print(report.table(), flush=True)
        return 0
    repeats = args.repeats or (1 if args.quick else 3)

    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    report = Report()
    began = time.perf_counter()
    if "postgres" in backends and pg_role() is None:
        message = "PostgreSQL is not reachable at 127.0.0.1:5432/test: measuring SQLite only"
        print(message, flush=True)
        report.note(message)
        backends.remove("postgres")
    if args.many_workflows:
        with scratch_dir(parent=args.dir) as work:
            for backend in backends:
                try:
                    many.measure(report, backend, work, args.quick)
                except Unavailable as exc:
                    report.note(f"{backend} skipped: {exc}")
        report.note(
            f"{cpu_slots()} CPUs, Python {platform.python_version()}; "
            f"total {time.perf_counter() - began:.0f} s" + (" (--quick)" if args.quick else "")
        )
        print(report.table(), flush=True)
        return 0
    if args.external:
        from . import external

        with scratch_dir(parent=args.dir) as work:
            for backend in backends:
                external.measure(report, backend, work, args.quick)
        report.note(f"{cpu_slots()} CPUs; total {time.perf_counter() - began:.0f} s")
        print(report.table(), flush=True)
        return 0
    if args.watchers:
        from . import watchers

        # SIGTERM unwinds like Ctrl-C: every run's server and watchers are stopped
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        with scratch_dir(parent=args.dir) as work:
            for backend in backends:
                watchers.measure(report, backend, work, args.quick, tasks=args.watch_tasks)
        report.note(f"{cpu_slots()} CPUs; total {time.perf_counter() - began:.0f} s")
        print(report.table(), flush=True)
        return 0
    with scratch_dir(parent=args.dir) as work:
        latency.measure_probe(report, work, args.quick)
        throughput.file_creation(report, work)
        if "sqlite" in backends:
            supervision.measure(report, work, args.quick)
        for backend in backends:
            try:
                throughput.measure(report, backend, work, args.quick, repeats)
                latency.measure(report, backend, work, args.quick)
                if not args.skip_big:
                    big.measure(report, backend, work, args.quick, not args.no_tracemalloc)
            except Unavailable as exc:
                print(f"{backend}: {exc}; continuing", flush=True)
                report.note(f"{backend} skipped: {exc}")
    elapsed = time.perf_counter() - began
    report.note(
        f"{cpu_slots()} CPUs, Python {platform.python_version()}, {platform.system()} "
        f"{platform.release()}; repeats={repeats}; total {elapsed:.0f} s"
        + (" (--quick)" if args.quick else "")
    )
    log(f"done in {elapsed:.0f} s")
    print(report.table(), flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
