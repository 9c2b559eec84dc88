"""2. Dispatch latency: from an upstream's success being recorded (its attempt's `ended_at`, as
stored) to the downstream process starting (the process writes its own start time), over a chain.

Every task is `sh -c 'exec date "+<node> %s.%N" >> starts.txt'`: the shell execs `date`, which reads
the clock as it starts. The probe's own cost (fork/exec of sh and date, from a Python thread) is
measured separately and reported, so the engine's share can be told apart.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

from .common import Report, cpu_slots, database, log, ms, percentile
from .dags import chain, run_engine

TARGET_P50 = 0.010


def probe(path: Path):  # type: ignore[no-untyped-def]
    def command(name: str) -> list[str | list[str]]:
        line = f'exec date "+{name} %s.%N" >> {shlex.quote(str(path))}'
        return [["/bin/sh", "-c", line]]

    return command


def read_starts(path: Path) -> dict[str, float]:
    starts: dict[str, float] = {}
    for line in path.read_text().splitlines():
        name, _, stamp = line.partition(" ")
        starts[name] = float(stamp)
    return starts


def probe_overhead(work: Path, samples: int) -> list[float]:
    """time.time() just before spawning the probe -> the probe's recorded start."""
    path = work / "probe-overhead.txt"
    command = probe(path)("x")[0]
    out: list[float] = []
    for _ in range(samples):
        path.unlink(missing_ok=True)
        before = time.time()
        subprocess.run(command, check=True)
        out.append(read_starts(path)["x"] - before)
    return out


def measure(report: Report, backend: str, work: Path, quick: bool) -> None:
    length = 20 if quick else 200
    dag = chain(length)
    section = f"2 dispatch latency (chain of {length})"
    starts_file = work / f"starts-{backend}.txt"
    starts_file.unlink(missing_ok=True)
    with database(backend, work) as url:
        run = run_engine(
            url, work / f"data-{backend}-lat", dag, probe(starts_file), cpu_slots(), keep_store=True
        )
        store = run.store
        ended: dict[str, float] = {}
        claimed: dict[str, float] = {}
        for name in dag.names:
            [row] = [r for r in store.attempts(run.workflow_id, name) if r.snapshot is None]
            assert row.attempt.ended_at is not None and row.attempt.started_at is not None
            ended[name] = row.attempt.ended_at
            claimed[name] = row.attempt.started_at  # the scheduler's clock at dispatch
        store.close()
    starts = read_starts(starts_file)
    hops = list(zip(dag.names, dag.names[1:], strict=False))
    total = [starts[dn] - ended[up] for up, dn in hops]
    to_claim = [claimed[dn] - ended[up] for up, dn in hops]
    to_start = [starts[dn] - claimed[dn] for _, dn in hops]
    sched = run.dispatch_latency
    p50 = percentile(total, 50)
    log(f"{backend} latency p50 {p50 * 1000:.1f} ms over {len(total)} hops")
    report.check(
        backend,
        section,
        "success recorded -> process start p50",
        ms(p50),
        "< 10 ms",
        p50 < TARGET_P50,
    )
    report.info(
        backend, section, "success recorded -> process start p99", ms(percentile(total, 99))
    )
    report.info(
        backend,
        section,
        "  of which: success recorded -> claimed, p50",
        ms(percentile(to_claim, 50)),
    )
    report.info(
        backend,
        section,
        "  of which: claimed -> process start, p50",
        ms(percentile(to_start, 50)),
    )
    report.info(backend, section, "scheduler stats.dispatch_latency p50", ms(percentile(sched, 50)))
    report.info(backend, section, "scheduler stats.dispatch_latency p99", ms(percentile(sched, 99)))
    report.info(
        backend, section, "chain wall time", f"{run.seconds:.2f} s ({length / run.seconds:.0f}/s)"
    )


def measure_probe(report: Report, work: Path, quick: bool) -> None:
    samples = probe_overhead(work, 10 if quick else 50)
    report.info(
        "any",
        "2 dispatch latency",
        "probe spawn cost (Python thread -> date), p50",
        ms(percentile(samples, 50)),
    )
